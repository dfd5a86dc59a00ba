"""Hostile LLM replies (tests/llmfake.py servers): a number taken from another passage than the one
cited, an endless stream, a stream cut mid-sentence, impossible citation markers, a deeply nested
JSON reply, and terminal escape sequences. Fake embedder, generated corpus."""
from __future__ import annotations

import json

import pytest

from llmfake import FakeLLM, _send
from rag import Config, Rag
from rag.llm import claims
from rag.build.builder import build_index
from rag.cli import print_answer

from conftest import FakeEmbedder

QUESTION = "How high is Kestrick?"
PASSAGES = {"kestrick.txt": "Kestrick is a hill in Norland. Kestrick is 285 m high and covered in heather.\n",
            "varn.txt": "The Varn radio tower near the coast is 359 m high and was built in 1962.\n"}


def emb(texts):
    return FakeEmbedder().encode(texts)


def test_a_number_from_another_passage_than_the_cited_one_is_unsupported():
    passages = ["Kestrick is a hill in Norland. Kestrick is 285 m high.", "The Varn tower is 359 m high."]
    out = claims.check("Kestrick is 359 m high [1].", passages, emb, question=QUESTION)
    (claim,) = out.claims
    assert not claim.supported and claims.UNSUPPORTED in out.text
    # the same sentence is re-cited when one passage alone says all of it
    passages = ["Kestrick is a hill in Norland. Kestrick is 285 m high.", "Kestrick is 359 m high since 1990."]
    (claim,) = claims.check("Kestrick is 359 m high [1].", passages, emb, question=QUESTION).claims
    assert claim.supported and claim.citations == (2,) and claim.removed == (1,)
    # a faithful sentence stays supported with its citation
    (claim,) = claims.check("Kestrick is 285 m high [1].", passages, emb, question=QUESTION).claims
    assert claim.supported and claim.citations == (1,)


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    base = tmp_path_factory.mktemp("llmsafety")
    (base / "corpus").mkdir()
    for name, text in PASSAGES.items():
        (base / "corpus" / name).write_text(text)
    config = Config(corpus_dir=base / "corpus", index_dir=base / "idx", model=FakeEmbedder.name)
    build_index(config, embedder=FakeEmbedder(), progress=False)
    return base / "idx"


def ask(index, server, **kw):
    rag = Rag.open(index, embedder=FakeEmbedder(), llm_url=server.url, llm_timeout=5, **kw)
    return rag.query(QUESTION, mode="bm25")


class Raw(FakeLLM):
    """A server whose reply is written by a function of the request handler."""

    def __init__(self, write):
        super().__init__("sse")
        self.write = write

    def handle(self, h):
        try:
            self.write(h)
        except (BrokenPipeError, ConnectionResetError):
            pass


def sse_head(h):
    h.send_response(200)
    h.send_header("Content-Type", "text/event-stream")
    h.end_headers()


def event(h, text):
    h.wfile.write(b"data: " + json.dumps({"choices": [{"delta": {"content": text}}]}).encode() + b"\n\n")
    h.wfile.flush()


def test_an_endless_stream_is_cut_at_llm_max_chars_with_a_notice(index):
    def endless(h):
        sse_head(h)
        for _ in range(200_000):   # 5.6 MB unless the client stops reading
            event(h, "Kestrick is 285 m high [1]. ")
    with Raw(endless) as server:
        answer = ask(index, server)   # the default: 4,000 characters
    assert len(answer.text) <= 4000 + 20 * answer.text.count("[unsupported]")
    assert answer.notice and "cut at" in answer.notice and "4,000" in answer.notice
    with Raw(endless) as server:
        answer = ask(index, server, llm_max_chars=500)
    assert len(answer.text) <= 500 + 20 * answer.text.count("[unsupported]")
    assert answer.notice and "cut at" in answer.notice and "500" in answer.notice


def test_a_stream_cut_mid_sentence_gets_a_notice(index):
    def cut(h):
        sse_head(h)
        for part in ("Kestrick is 285 m high [1]. ", "It was first climbed in"):
            event(h, part)   # then the connection ends, without [DONE]
    with Raw(cut) as server:
        answer = ask(index, server)
    assert answer.generated and "mid-sentence" in (answer.notice or "")
    with FakeLLM("sse", reply="Kestrick is 285 m high [1].") as server:   # a whole answer: no such notice
        assert "mid-sentence" not in (ask(index, server).notice or "")


def test_impossible_markers_are_removed(index):
    with FakeLLM("json", reply="Kestrick is 285 m high [1][-1][0] [1000000000000] [+2].") as server:
        answer = ask(index, server)
    for bad in ("[-1]", "[0]", "[1000000000000]", "[+2]", "1000000000000"):
        assert bad not in answer.text
    assert "[1]" in answer.text or "[2]" in answer.text


def test_a_deeply_nested_json_reply_falls_back_to_the_extractive_answer(index):
    body = b'{"choices": [{"message": {"content": ' + b"[" * 200_000 + b"]" * 200_000 + b"}}]}"
    with Raw(lambda h: _send(h, 200, "application/json", body)) as server:
        answer = ask(index, server)
    assert not answer.generated and "nested too deeply" in answer.notice and "extractive" in answer.notice

    def nested_event(h):
        sse_head(h)
        h.wfile.write(b"data: " + b"[" * 200_000 + b"]" * 200_000 + b"\n\n")
    with Raw(nested_event) as server:
        answer = ask(index, server)
    assert not answer.generated and "nested too deeply" in answer.notice


def test_terminal_escapes_never_reach_the_json_answer_or_the_terminal(index, capsys):
    reply = "Kestrick is \x1b[31m285\x1b[0m m \x9b2Jhigh\x07 \x1b]0;pwned\x07[1].\x9b"
    with FakeLLM("json", reply=reply) as server:
        answer = ask(index, server)
    text = json.dumps(answer.to_dict(), ensure_ascii=False)
    for bad in ("\x1b", "\x9b", "\x07", "pwned", "[31m"):
        assert bad not in text and bad not in answer.text
    assert "285" in answer.text
    print_answer(answer)
    out = capsys.readouterr().out
    assert not any(ord(ch) < 32 and ch not in "\n\t" or 0x7f <= ord(ch) <= 0x9f for ch in out)
