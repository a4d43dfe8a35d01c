#!/usr/bin/python3
"""A scripted OpenAI-compatible chat-completions and embeddings server for the
CLI tests and benchmarks.

Listens on 127.0.0.1 only, on a free port that it writes to --port-file once
it is ready. Python standard library only.

    /usr/bin/python3 tests/cli/llm_server.py --port-file P --log L [--script S]

The script (JSON) is a queue of responses, consumed one per request in the
order requests arrive; when it is empty, "default" answers (itself defaulting
to {"auto": true}):

    {"responses": [{"status": 429, "headers": {"Retry-After": "1"},
                    "json": {"error": {"message": "slow down", "code": "rate_limit"}}},
                   {"delay": 5, "auto": true}],
     "default": {"auto": true, "delay": 0.5}}

A response entry has: match (optional: the entry only answers a request
whose body contains this text; the first matching entry is used), status (default 200), headers, delay (seconds before
anything is sent), and one body: "raw" (a string sent as is), "json" (an
object), "content" (a string wrapped as a chat completion) or "auto": true
(a chat completion with as many fresh, distinct Japanese sentences as the
prompt asks for: "generate three paraphrase sentences" gives three;
"auto_count" overrides the number, "auto_style" picks "numbered" (default),
"bullets", "circled" or "json").

On a path ending in /embeddings, "auto" answers an embeddings request
instead: one vector per input (in order, with "index"), each a pure function
of (seed, input text): "seed" (default "m1") stands for the model, so
another seed is another model under the same name; "dim" (default: the
request's "dimensions", else 16) is the vector length; "reverse": true
returns the data items in reverse order (the "index" fields still right).

POST /_control with {"responses": [...], "default": {...}} replaces the
queue and the default while the server runs (same port); it is not logged.

Every request is appended to the log as one JSON line when it is answered:
{"path", "method", "headers", "body" (parsed JSON or the raw text), "start",
"end" (time.time()), "status", "index"}.
"""
import argparse
import hashlib
import json
import struct
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
         "seven": 7, "eight": 8, "nine": 9, "ten": 10}
CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
KANA = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわ"

lock = threading.Lock()
state = {"queue": [], "default": {"auto": True}, "count": 0, "serial": 0}
args = None


def fresh_sentence():
    """A Japanese sentence no other call of this server returns."""
    state["serial"] += 1
    n = state["serial"]
    tag = KANA[n % len(KANA)] + KANA[(n // len(KANA)) % len(KANA)]
    return f"わたしの心は{tag}のように動いています{n}"


def prompt_count(body):
    try:
        text = " ".join(m.get("content", "") for m in body.get("messages", []))
    except AttributeError:
        return 10
    m = re.search(r"generate (\w+) paraphrase", text)
    if not m:
        return 10
    w = m.group(1)
    return WORDS.get(w, int(w) if w.isdigit() else 10)


def completion(content, model="test-model"):
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}}


def auto_content(entry, body):
    n = entry.get("auto_count", prompt_count(body))
    with lock:
        sentences = [fresh_sentence() for _ in range(n)]
    style = entry.get("auto_style", "numbered")
    if style == "json":
        return json.dumps(sentences, ensure_ascii=False)
    if style == "bullets":
        return "\n".join("・" + s for s in sentences)
    if style == "circled":
        return "\n".join(CIRCLED[i % 20] + s for i, s in enumerate(sentences))
    return "\n".join(f"{i + 1}. {s}" for i, s in enumerate(sentences))


def embedding(seed, text, dim):
    """dim floats in [-1, 1), a pure function of (seed, text)."""
    out = []
    block = 0
    while len(out) < dim:
        h = hashlib.sha256(f"{seed}\0{text}\0{block}".encode()).digest()
        out.extend(v / 2147483648.0 for v in struct.unpack("<8i", h))
        block += 1
    return out[:dim]


def embeddings_reply(entry, body):
    inputs = body.get("input", []) if isinstance(body, dict) else []
    if isinstance(inputs, str):
        inputs = [inputs]
    dim = entry.get("dim", body.get("dimensions", 16) if isinstance(body, dict) else 16)
    data = [{"object": "embedding", "index": i, "embedding": embedding(entry.get("seed", "m1"), t, dim)}
            for i, t in enumerate(inputs)]
    if entry.get("reverse"):
        data.reverse()
    return {"object": "list", "data": data, "model": body.get("model", "") if isinstance(body, dict) else "",
            "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY each
    # reply would wait out the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True

    def log_message(self, fmt, *a):  # keep the test output clean
        pass

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def handle_any(self):
        start = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        if self.path == "/_control":
            with lock:
                state["queue"] = list(body.get("responses", []))
                state["default"] = body.get("default", {"auto": True})
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with lock:
            index = state["count"]
            state["count"] += 1
            entry = state["default"]
            for i, e in enumerate(state["queue"]):
                if e.get("match", "") in raw:
                    entry = state["queue"].pop(i)
                    break
        status = entry.get("status", 200)
        if entry.get("delay"):
            time.sleep(entry["delay"])
        if "raw" in entry:
            payload = entry["raw"].encode()
        elif "json" in entry:
            payload = json.dumps(entry["json"], ensure_ascii=False).encode()
        elif "content" in entry:
            payload = json.dumps(completion(entry["content"]), ensure_ascii=False).encode()
        elif self.path.endswith("/embeddings"):
            payload = json.dumps(embeddings_reply(entry, body if isinstance(body, dict) else {})).encode()
        else:
            payload = json.dumps(completion(auto_content(entry, body if isinstance(body, dict) else {})),
                                 ensure_ascii=False).encode()
        try:
            self.send_response(status)
            for k, v in entry.get("headers", {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            pass  # the client gave up (a timeout test)
        record = {"index": index, "path": self.path, "method": self.command,
                  "headers": {k: v for k, v in self.headers.items()}, "body": body,
                  "start": start, "end": time.time(), "status": status}
        with lock:
            with open(args.log, "a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--script")
    args = p.parse_args()
    if args.script:
        with open(args.script, encoding="utf-8") as f:
            script = json.load(f)
        state["queue"] = list(script.get("responses", []))
        state["default"] = script.get("default", {"auto": True})
    open(args.log, "w").close()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.replace(args.port_file + ".tmp", args.port_file)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
