"""A tiny local OpenAI-compatible chat server for tests, on a free loopback port.

``FakeLLM(mode, reply=...)``: mode "sse" streams ``reply`` in small server-sent events, "json" answers
with one plain completion, "sleep" waits ``delay`` seconds before answering, "stall" sends one delta
then stops sending (in "sse", ``pace`` seconds pass between deltas), "garbage" answers 200 with bytes that are no chat completion, "badevents" sends
SSE lines that are not JSON, "error" answers HTTP 500. The last request body is kept in ``.requests``.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeLLM:
    def __init__(self, mode: str = "sse", reply: str = "", delay: float = 5.0, pace: float = 0.0):
        self.mode, self.reply, self.delay, self.pace, self.requests = mode, reply, delay, pace, []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.requests.append(json.loads(body))
                owner.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def handle(self, h):
        mode = self.mode
        if mode == "sleep":
            time.sleep(self.delay)
            mode = "sse"
        if mode == "error":
            return _send(h, 500, "application/json", b'{"error": "model exploded"}')
        if mode == "garbage":
            return _send(h, 200, "text/html", b"<html>\x00\x01 not a completion \xff\xfe</html>")
        if mode == "json":
            reply = {"choices": [{"message": {"role": "assistant", "content": self.reply}}]}
            return _send(h, 200, "application/json", json.dumps(reply).encode())
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        if mode == "badevents":
            h.wfile.write(b"data: this is not json\n\n")
            h.wfile.flush()
            return
        words = self.reply.split(" ")
        for i, w in enumerate(words):
            chunk = {"choices": [{"index": 0, "delta": {"content": w + (" " if i < len(words) - 1 else "")}}]}
            h.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            h.wfile.flush()
            if mode == "stall":
                time.sleep(self.delay)
                return
            time.sleep(self.pace)
        h.wfile.write(b"data: [DONE]\n\n")
        h.wfile.flush()


def _send(h, status: int, content_type: str, body: bytes) -> None:
    """One whole (non-streamed) reply."""
    h.send_response(status)
    h.send_header("Content-Type", content_type)
    h.end_headers()
    h.wfile.write(body)


# A question about the seed article, a reply the passages support and one they do not.
QUESTION = "How many North Korean soldiers were sent to Russia last fall?"
GOOD = "North Korea dispatched around 12,000 soldiers to Russia last fall [1]."
WRONG = "It also sent 9,000 soldiers to Paris in 1990 [7]."
