"""A minimal client for any OpenAI-compatible chat endpoint (llama.cpp server, Ollama, vLLM, OpenAI...).

``LLMClient(base_url, model, key, timeout).stream(messages)`` POSTs to
``{base_url}/chat/completions`` with ``"stream": true`` and yields the text
deltas parsed from the server-sent events (``data: {...}`` lines, ending at
``data: [DONE]``); a server that answers with one plain JSON completion
instead is accepted too. ``base_url`` may end in ``/v1`` or not (``/v1`` is
added when the path is empty). Every failure raises ``LLMError`` with a one-line
reason, so the caller can fall back: connection refused or unreachable, no
data for ``timeout`` seconds (each socket read) or the whole answer over
``total_timeout``, an HTTP error status (the server's message quoted), and
garbage: a body that is not SSE/JSON, events without ``choices``, or text that
is mostly control characters or empty, or JSON nested too deeply to parse. Uses urllib only (no dependency); does
not retry, and never follows redirects to another host.
"""
from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Iterator

from rag.errors import RagError

MAX_EVENT_BYTES = 1 << 20      # one SSE line longer than this is garbage
MAX_ANSWER_CHARS = 20_000      # stop reading a runaway answer here


class LLMError(RagError):
    """The LLM endpoint could not give a usable answer (unset, down, slow, or garbage)."""


def chat_url(base_url: str) -> str:
    """The chat completions URL for a base URL ("http://h:8080", ".../v1" or the full URL)."""
    url = base_url.strip().rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise LLMError(f"LLM URL must start with http:// or https:// and name a host, got {base_url!r}")
    if url.endswith("/chat/completions"):
        return url
    if parts.path in ("", "/"):
        url += "/v1"
    return url + "/chat/completions"


def garbage(text: str) -> bool:
    """True for text no model meant to write: empty, or over 10% control/replacement characters."""
    if not text.strip():
        return True
    bad = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\n\r\t") or ch == "\ufffd")
    return bad > 0.1 * len(text)


class LLMClient:
    def __init__(self, base_url: str, model: str = "default", key: str | None = None, *,
                 timeout: float = 30.0, total_timeout: float | None = None):
        self.url = chat_url(base_url)
        self.model, self.key, self.timeout = model or "default", key, float(timeout)
        self.total_timeout = float(total_timeout) if total_timeout else 10 * self.timeout

    def __repr__(self) -> str:   # never shows the key
        return f"LLMClient({self.url!r}, model={self.model!r}, timeout={self.timeout})"

    def _request(self, messages: list[dict], max_tokens: int, temperature: float):
        body = json.dumps({"model": self.model, "messages": messages, "stream": True,
                           "max_tokens": max_tokens, "temperature": temperature}).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace").replace("\n", " ").strip()
            raise LLMError(f"LLM endpoint answered HTTP {exc.code}: {detail or exc.reason}") from None
        except (socket.timeout, TimeoutError):
            raise LLMError(f"LLM endpoint did not answer within {self.timeout:g}s") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise LLMError(f"LLM endpoint {self.url} unreachable: {reason}") from None

    def stream(self, messages: list[dict], *, max_tokens: int = 300,
               temperature: float = 0.0, state: dict | None = None) -> Iterator[str]:
        """Yield the answer's text deltas; raise LLMError (see the module docstring). state, when
        given, gets "finish": "stop" (the server ended the answer: [DONE] or finish_reason stop),
        "length" (the server's token limit), "limit" (MAX_ANSWER_CHARS) or None (the stream just
        ended: cut)."""
        state = {} if state is None else state
        state["finish"] = None
        t0, total = time.monotonic(), ""
        resp = self._request(messages, max_tokens, temperature)
        try:
            ctype = resp.headers.get("Content-Type", "")
            if "event-stream" not in ctype:   # a server that ignores "stream": one JSON body
                text, state["finish"] = self._json_body(resp.read(MAX_EVENT_BYTES + 1))
                if garbage(text):
                    raise LLMError("LLM endpoint returned an empty or unreadable answer")
                yield text
                return
            while True:
                if time.monotonic() - t0 > self.total_timeout:
                    raise LLMError(f"LLM answer took over {self.total_timeout:g}s")
                line = resp.readline(MAX_EVENT_BYTES + 1)
                if not line:
                    break
                if len(line) > MAX_EVENT_BYTES:
                    raise LLMError("LLM endpoint sent an oversized event")
                line = line.strip()
                if not line or line.startswith(b":") or not line.startswith(b"data:"):
                    continue   # blank separators, comments, event:/id: fields
                data = line[5:].strip()
                if data == b"[DONE]":
                    state["finish"] = state["finish"] or "stop"
                    break
                delta = self._delta(data, state)
                if delta:
                    total += delta
                    if garbage(total) and len(total) > 20:
                        raise LLMError("LLM endpoint returned unreadable text")
                    yield delta
                    if len(total) > MAX_ANSWER_CHARS:
                        state["finish"] = "limit"
                        break
        except (socket.timeout, TimeoutError):
            raise LLMError(f"LLM endpoint stopped sending for {self.timeout:g}s") from None
        except (OSError, ValueError) as exc:   # connection reset, http.client.IncompleteRead...
            raise LLMError(f"LLM stream broke: {type(exc).__name__}: {exc}") from None
        finally:
            resp.close()
        if garbage(total):
            raise LLMError("LLM endpoint returned an empty or unreadable answer")

    @staticmethod
    def _delta(data: bytes, state: dict | None = None) -> str:
        try:
            event = json.loads(data)
            choice = event["choices"][0] if event.get("choices") else {}
        except RecursionError:
            raise LLMError("LLM endpoint sent an event nested too deeply") from None
        except (ValueError, TypeError, KeyError, AttributeError, IndexError):
            raise LLMError(f"LLM endpoint sent a malformed event: {data[:80]!r}") from None
        if state is not None and isinstance(choice, dict) and isinstance(choice.get("finish_reason"), str):
            state["finish"] = "length" if choice["finish_reason"] == "length" else "stop"
        if "error" in event and not choice:
            raise LLMError(f"LLM endpoint error: {str(event['error'])[:200]}")
        if not isinstance(choice, dict):
            raise LLMError(f"LLM endpoint sent a malformed event: {data[:80]!r}")
        delta = (choice.get("delta") or {}).get("content") if isinstance(choice.get("delta"), dict) else None
        if delta is None and isinstance(choice.get("text"), str):
            delta = choice["text"]
        if delta is not None and not isinstance(delta, str):
            raise LLMError(f"LLM endpoint sent a malformed event: {data[:80]!r}")
        return delta or ""

    @staticmethod
    def _json_body(raw: bytes) -> tuple[str, str]:
        """(text, "stop" or "length") of one plain JSON completion."""
        try:
            body = json.loads(raw)
            text = body["choices"][0]["message"]["content"]
            reason = body["choices"][0].get("finish_reason")
        except RecursionError:
            raise LLMError("LLM endpoint returned JSON nested too deeply, not a chat completion") from None
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            raise LLMError(f"LLM endpoint returned garbage, not a chat completion: {raw[:80]!r}") from None
        if not isinstance(text, str):
            raise LLMError("LLM endpoint returned a completion without text")
        return text, "length" if reason == "length" else "stop"
