#!/usr/bin/env bash
# Prints the path of sqlite-vec's vec0.so, installing the npm package
# sqlite-vec-linux-x64 into build/npm on first use (the npm registry is the
# one place it is published as a prebuilt extension).
set -eu
cd "$(dirname "$0")/../.."
dir=build/npm
so=$(ls "$dir"/node_modules/sqlite-vec-linux-x64/vec0.so 2>/dev/null || true)
if [ -z "$so" ]; then
  mkdir -p "$dir"
  (cd "$dir" && npm install --no-audit --no-fund --silent sqlite-vec-linux-x64 >/dev/null 2>&1)
  so=$(ls "$dir"/node_modules/sqlite-vec-linux-x64/vec0.so)
fi
echo "${so%.so}"
