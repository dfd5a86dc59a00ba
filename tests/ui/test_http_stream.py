"""The HTTP API with an LLM writing the answers (a fake OpenAI-compatible server, tests/llmfake.py),
over the generated corpus of tests/apiserver.py and the fake embedder: /api/ask with "stream": true
sends the model's pieces as {"delta"} events then the checked {"answer"}, whose claims mark the
planted unsupported sentence; /v1/chat/completions streams the model's pieces as OpenAI deltas, then the
checked content, with the structured answer in the last chunk's ``rag``; non-streamed replies are checked;
a bad question is still a 400; the extractive answerer streams too."""
import json

import pytest

from apiserver import PEOPLE, open_rag, post_json, request, serve, write_corpus
from llmfake import FakeLLM
from rag import Rag

PERSON, OBS, TOWN, YEAR = PEOPLE[0]
QUESTION = f"When did {PERSON} found the {OBS} observatory?"
GOOD = f"{PERSON} founded the {OBS} observatory in {YEAR} [1]."
WRONG = "He later moved the telescope to Paris in 1950 [9]."


@pytest.fixture(scope="module")
def llm():
    with FakeLLM("sse", reply=f"{GOOD} {WRONG}") as server:
        yield server


@pytest.fixture(scope="module")
def corpus_index(tmp_path_factory):
    base = tmp_path_factory.mktemp("api-llm")
    write_corpus(base / "corpus")
    open_rag(base / "corpus", base / "idx")
    return base / "corpus", base / "idx"


@pytest.fixture(scope="module")
def api(corpus_index, llm):
    from conftest import FakeEmbedder

    corpus, idx = corpus_index
    rag = Rag.open(idx, embedder=FakeEmbedder(), corpus_dir=corpus, llm_url=llm.url)
    with serve(rag) as url:
        yield url


def events(raw: bytes) -> list[str]:
    out = [e for e in raw.decode().split("\n\n") if e]
    assert all(e.startswith("data: ") for e in out), out
    return [e[len("data: "):] for e in out]


def post_stream(url, path, payload):
    status, headers, raw = request(url, "POST", path, json.dumps(payload).encode(),
                                   {"Content-Type": "application/json"})
    assert status == 200, raw
    assert headers["content-type"].startswith("text/event-stream")
    return events(raw)


def test_api_ask_streams_deltas_then_the_checked_answer(api):
    got = [json.loads(e) for e in post_stream(api, "/api/ask", {"question": QUESTION, "stream": True})]
    deltas, last = got[:-1], got[-1]
    assert len(deltas) > 5 and all(set(d) == {"delta"} for d in deltas)
    assert "".join(d["delta"] for d in deltas) == f"{GOOD} {WRONG}"   # the model's pieces as written
    answer = last["answer"]
    assert answer["generated"] and answer["supported_share"] == 0.5 and isinstance(answer["seconds"], float)
    good, wrong = answer["claims"]
    assert good["supported"] and not wrong["supported"] and 9 in wrong["removed"]
    assert "Paris" in wrong["text"] and answer["answer"].count("[unsupported]") == 1
    assert "[9]" not in answer["answer"]
    assert answer["citations"][0]["doc_id"] == f"{OBS.lower()}.txt"


def test_api_ask_unstreamed_and_bad_input(api):
    status, got = post_json(api, "/api/ask", {"question": QUESTION})
    assert status == 200 and got["generated"] and got["answer"].count("[unsupported]") == 1
    status, got = post_json(api, "/api/ask", {"question": "  ", "stream": True})
    assert status == 400 and "empty" in got["error"]   # refused before the stream starts
    status, got = post_json(api, "/api/ask", {"question": QUESTION, "stream": "yes"})
    assert status == 400 and "stream" in got["error"]


def test_openai_streams_the_models_pieces_then_the_checked_content(api):
    body = {"messages": [{"role": "user", "content": QUESTION}]}
    raw = post_stream(api, "/v1/chat/completions", dict(body, stream=True))
    assert raw[-1] == "[DONE]"
    chunks = [json.loads(e) for e in raw[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    pieces = [c["choices"][0]["delta"].get("content", "") for c in chunks]
    text = "".join(pieces)
    assert len([p for p in pieces if p]) > 5
    raw_part, checked = text.split("\n\n--- checked against the passages ---\n\n")
    assert raw_part == f"{GOOD} {WRONG}"
    assert checked.split("\n\n")[0].count("[unsupported]") == 1 and "Paris in 1950. [unsupported]" in checked
    assert "[9]" not in checked and "Sources:\n[1]" in checked
    assert [c["choices"][0]["finish_reason"] for c in chunks][-1] == "stop"
    structured = chunks[-1]["rag"]
    assert structured["supported_share"] == 0.5 and not structured["claims"][1]["supported"]
    status, plain = post_json(api, "/v1/chat/completions", body)
    assert status == 200 and plain["choices"][0]["message"]["content"] == checked   # checked text only
    status, bad = post_json(api, "/v1/chat/completions", {"messages": [{"role": "user", "content": " "}],
                                                          "stream": True})
    assert status == 400 and "empty" in bad["error"]["message"]


def test_openai_stream_after_a_failed_model_shows_the_extractive_answer(corpus_index):
    from conftest import FakeEmbedder

    corpus, idx = corpus_index
    with FakeLLM("stall", reply=f"{GOOD} {WRONG}", delay=3.0) as server:
        rag = Rag.open(idx, embedder=FakeEmbedder(), corpus_dir=corpus, llm_url=server.url, llm_timeout=0.5)
        with serve(rag) as url:
            raw = post_stream(url, "/v1/chat/completions",
                              {"messages": [{"role": "user", "content": QUESTION}], "stream": True})
    chunks = [json.loads(e) for e in raw[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "\n\n--- the model failed; extractive answer ---\n\n" in text
    assert chunks[-1]["rag"]["generated"] is False and "stopped sending" in chunks[-1]["rag"]["notice"]


def test_extractive_api_ask_streams_once(tmp_path):
    write_corpus(tmp_path / "corpus")
    rag = open_rag(tmp_path / "corpus", tmp_path / "idx")
    with serve(rag) as url:
        got = [json.loads(e) for e in post_stream(url, "/api/ask", {"question": QUESTION, "stream": True})]
    assert len(got) == 2 and got[0]["delta"] == got[1]["answer"]["answer"] and not got[1]["answer"]["generated"]
    assert got[1]["answer"]["short_answer"] == str(YEAR)
