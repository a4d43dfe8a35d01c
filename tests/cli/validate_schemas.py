#!/usr/bin/python3
"""Check the JSON Schemas in schemas/ and the files a user hands us against them.

  /usr/bin/python3 tests/cli/validate_schemas.py [SCHEMA=FILE ...]

1. Every schemas/*.schema.json is a valid draft 2020-12 schema.
2. tests/fixtures/schemas/valid/NAME-*.json must validate against
   schemas/NAME.schema.json and tests/fixtures/schemas/invalid/NAME-*.json
   must not; every schema has at least one of each.
3. Every samples/**/*.json that is a session manifest ("utterances"),
   annotations ("annotations"), descriptions ("descriptions") or model card
   ("blob_version") validates; other JSON there is listed as skipped.
4. Each SCHEMA=FILE argument (e.g. descriptions=/tmp/seeds.json) validates.

Prints one line per failure and ends with "N passed, N failed"; exit status 1
when anything failed. Needs Debian's python3-jsonschema (>= 4.0).
"""
import glob
import json
import os
import sys

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DRAFT = "https://json-schema.org/draft/2020-12/schema"

passed = 0
failed = 0


def ok():
    global passed
    passed += 1


def fail(msg):
    global failed
    failed += 1
    print("FAIL " + msg)


def rel(path):
    return os.path.relpath(path, ROOT)


def load(path):
    """The parsed JSON of path, or None after reporting why it is unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail("%s: not readable JSON: %s" % (rel(path), e))
        return None


def errors_of(validator, doc):
    errs = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    return ["%s: %s" % ("/" + "/".join(str(p) for p in e.absolute_path), e.message) for e in errs]


def load_schemas():
    validators = {}
    paths = sorted(glob.glob(os.path.join(ROOT, "schemas", "*.schema.json")))
    if not paths:
        fail("no schemas in schemas/")
    for path in paths:
        name = os.path.basename(path)[: -len(".schema.json")]
        schema = load(path)
        if schema is None:
            continue
        if schema.get("$schema") != DRAFT:
            fail("%s: $schema is %r, want %s" % (rel(path), schema.get("$schema"), DRAFT))
            continue
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as e:
            fail("%s: not a valid schema: %s" % (rel(path), e.message))
            continue
        ok()
        validators[name] = Draft202012Validator(schema)
    for want in ("session", "annotations", "descriptions", "model_card"):
        if want in validators:
            ok()
        else:
            fail("schemas/%s.schema.json missing or invalid" % want)
    return validators


def expect(validators, name, path, valid):
    if name not in validators:
        fail("%s: no schema named %r" % (rel(path), name))
        return
    doc = load(path)
    if doc is None:
        return
    errs = errors_of(validators[name], doc)
    if valid and errs:
        fail("%s should match %s.schema.json:\n    %s" % (rel(path), name, "\n    ".join(errs[:5])))
    elif not valid and not errs:
        fail("%s should NOT match %s.schema.json, but does" % (rel(path), name))
    else:
        ok()


def check_fixtures(validators):
    seen = {(n, v): 0 for n in validators for v in (True, False)}
    for kind, valid in (("valid", True), ("invalid", False)):
        pattern = os.path.join(ROOT, "tests", "fixtures", "schemas", kind, "*.json")
        for path in sorted(glob.glob(pattern)):
            name = os.path.basename(path).split("-", 1)[0]
            expect(validators, name, path, valid)
            if (name, valid) in seen:
                seen[(name, valid)] += 1
    for (name, valid), n in sorted(seen.items()):
        if n:
            ok()
        else:
            fail("no %s fixture for %s.schema.json" % ("valid" if valid else "invalid", name))


def kind_of(doc):
    if not isinstance(doc, dict):
        return None
    for key, name in (("utterances", "session"), ("annotations", "annotations"),
                      ("descriptions", "descriptions"), ("blob_version", "model_card")):
        if key in doc:
            return name
    return None


def check_samples(validators):
    paths = sorted(glob.glob(os.path.join(ROOT, "samples", "**", "*.json"), recursive=True))
    for path in paths:
        doc = load(path)
        if doc is None:
            continue
        name = kind_of(doc)
        if name is None:
            print("skip %s (not a manifest, annotations, descriptions or model card)" % rel(path))
            continue
        errs = errors_of(validators[name], doc) if name in validators else ["no schema"]
        if errs:
            fail("%s does not match %s.schema.json:\n    %s" % (rel(path), name, "\n    ".join(errs[:5])))
        else:
            ok()
    print("samples: %d JSON files" % len(paths))


def main(argv):
    validators = load_schemas()
    check_fixtures(validators)
    check_samples(validators)
    for arg in argv:
        name, sep, path = arg.partition("=")
        if not sep:
            fail("argument %r is not SCHEMA=FILE" % arg)
            continue
        expect(validators, name, path, True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
