"""Scoped questions over HTTP (the API alone, in-process, fake embedder): `where` on /api/ask (plain,
follow-up and streamed) and on the OpenAI-compatible /v1/chat/completions; a bad or empty scope is a 400."""
import json

import pytest

from apiserver import post_json, request, serve
from rag.answer.base import NOT_FOUND_SCOPED

from scopecorpus import QUESTION, scope_rag


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    rag = scope_rag(tmp_path_factory.mktemp("scope"))
    with serve(rag, api_only=True) as url:
        yield url


def test_ask_within_a_folder(api):
    status, whole = post_json(api, "/api/ask", {"question": QUESTION})
    assert status == 200 and whole["short_answer"] == "1803" and whole["notice"] is None
    status, got = post_json(api, "/api/ask", {"question": QUESTION, "where": {"folders": ["new"]}})
    assert status == 200 and got["short_answer"] == "1811" and got["short_doc"] == "new/survey.md"
    assert {p["doc_id"] for p in got["passages"]} == {"new/survey.md", "new/notes.md"}
    status, got = post_json(api, "/api/ask", {"question": "and in which town was the survey printed?",
                                              "history": [{"role": "user", "content": QUESTION},
                                                          {"role": "assistant", "content": "1811"}],
                                              "where": {"types": "md"}})
    assert status == 200 and {p["doc_id"] for p in got["passages"]} <= {"new/survey.md", "new/notes.md"}
    status, got = post_json(api, "/api/ask", {"question": QUESTION, "where": {"documents": ["new/notes.md"]}})
    assert status == 200 and not got["found"] and got["answer"] == NOT_FOUND_SCOPED


def test_ask_within_streams(api):
    status, _, body = request(api, "POST", "/api/ask", json.dumps(
        {"question": QUESTION, "stream": True, "where": {"documents": ["new/survey.md"]}}).encode(),
        {"Content-Type": "application/json"})
    events = [json.loads(line[6:]) for line in body.decode().splitlines() if line.startswith("data: ")]
    assert status == 200 and events[-1]["answer"]["short_answer"] == "1811"
    assert {p["doc_id"] for p in events[-1]["answer"]["passages"]} == {"new/survey.md"}


@pytest.mark.parametrize("where, message", [
    ({"types": ["pdf"]}, "no indexed document is in the scope (type pdf): 3 documents are indexed; "
                         "`rag docs` lists them"),
    ({"folder": "new"}, "unknown scope key 'folder': use folders, types, documents"),
    ("new", "where must be a Scope or a dict of folders, types, documents; got str 'new'"),
])
def test_a_bad_or_empty_scope_is_a_400(api, where, message):
    status, got = post_json(api, "/api/ask", {"question": QUESTION, "where": where})
    assert status == 400 and got == {"error": message}


def test_openai_compatible_where(api):
    messages = [{"role": "user", "content": QUESTION}]
    status, got = post_json(api, "/v1/chat/completions", {"messages": messages, "where": {"folders": ["new"]}})
    assert status == 200 and got["rag"]["short_answer"] == "1811"
    assert "new/survey.md" in got["choices"][0]["message"]["content"]
    assert "old/report.txt" not in got["choices"][0]["message"]["content"]
    status, got = post_json(api, "/v1/chat/completions", {"messages": messages, "where": {"types": ["pdf"]}})
    assert status == 400 and got["error"]["type"] == "invalid_request_error"
    assert got["error"]["message"].startswith("no indexed document is in the scope (type pdf)")
