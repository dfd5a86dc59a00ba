"""The OpenAI-compatible reply's ``usage`` (ui/openai_compat.py): cl100k_base tokens of the messages'
text and of the reply, their sum; in a stream, one last chunk with empty choices when asked for
(``stream_options.include_usage``), never otherwise."""
import json

import pytest

from apiserver import open_rag, post_json, request, serve, write_corpus


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    base = tmp_path_factory.mktemp("usage")
    write_corpus(base / "corpus")
    with serve(open_rag(base / "corpus", base / "idx"), api_only=True) as url:
        yield url


def test_the_counts_by_hand():
    from rag_ui.openai_compat import tokens, usage

    # cl100k_base: "hello world" is ["hello", " world"]; "Hello, world!" is ["Hello", ",", " world", "!"]
    assert tokens("hello world") == 2 and tokens("Hello, world!") == 4 and tokens("") == 0
    messages = [{"role": "system", "content": "hello world"},
                {"role": "user", "content": [{"type": "text", "text": "Hello, world!"}]}]
    assert usage(messages, "hello world") == {"prompt_tokens": 6, "completion_tokens": 2, "total_tokens": 8}


def test_a_reply_carries_usage(api):
    from rag_ui.openai_compat import tokens

    messages = [{"role": "system", "content": "hello world"},
                {"role": "user", "content": "Who founded the Quillmarsh observatory?"}]
    status, got = post_json(api, "/v1/chat/completions", {"messages": messages})
    assert status == 200, got
    content = got["choices"][0]["message"]["content"]
    u = got["usage"]
    assert u["prompt_tokens"] == 2 + tokens("Who founded the Quillmarsh observatory?")
    assert u["completion_tokens"] == tokens(content) > 10
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]


def events(api, body):
    status, _, raw = request(api, "POST", "/v1/chat/completions", json.dumps(body).encode(),
                             {"Content-Type": "application/json"})
    assert status == 200
    return [json.loads(e[6:]) for e in raw.decode().split("\n\n") if e and e != "data: [DONE]"]


def test_a_stream_sends_usage_last_only_when_asked(api):
    body = {"messages": [{"role": "user", "content": "Who founded the Quillmarsh observatory?"}], "stream": True}
    plain = events(api, body)
    assert all("usage" not in c for c in plain)
    asked = events(api, dict(body, stream_options={"include_usage": True}))
    last = asked[-1]
    assert last["choices"] == [] and "usage" not in asked[-2]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in asked[:-1])
    from rag_ui.openai_compat import tokens
    assert last["usage"]["completion_tokens"] == tokens(text)
    assert post_json(api, "/v1/chat/completions", dict(body, stream_options={"include_usage": "yes"}))[0] == 400
