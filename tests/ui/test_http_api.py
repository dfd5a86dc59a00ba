"""The HTTP API (ui/http_api.py, ui/openai_compat.py) served in-process by the same Gradio app
as the UI, over a generated corpus and the fake embedder: /api/ask gives `rag ask --json`'s JSON,
follow-ups use the history sent, bad input is a one-line 400, the OpenAI-compatible endpoint
(plain and streamed), the login in its three states, and ten concurrent conversations."""
import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from apiserver import (PEOPLE, basic, get_json, multipart, open_rag, post_json, request, serve,
                       write_corpus)
from rag.cli import answer_json  # the CLI JSON equals the HTTP API JSON

LOGIN = ("reader", "s3cret-pw")


@pytest.fixture(scope="module")
def corpus_rag(tmp_path_factory):
    base = tmp_path_factory.mktemp("api")
    write_corpus(base / "corpus")
    return base / "corpus", open_rag(base / "corpus", base / "idx")


@pytest.fixture(scope="module")
def api(corpus_rag):
    with serve(corpus_rag[1]) as url:
        yield url


@pytest.fixture(scope="module")
def auth_api(corpus_rag):
    """With a login; the throttle off (these tests send dozens of wrong passwords on purpose; the lockout
    is tested in test_server_gate.py)."""
    from rag_ui.gate import Throttle

    with serve(corpus_rag[1], LOGIN, throttle=Throttle(free=10 ** 9)) as url:
        yield url


def q1(person, obs):
    return f"When did {person} found the {obs} observatory?"


def test_ask_returns_the_json_of_rag_ask(api, corpus_rag):
    rag = corpus_rag[1]
    person, obs, town, year = PEOPLE[0]
    status, got = post_json(api, "/api/ask", {"question": q1(person, obs)})
    assert status == 200, got
    want = answer_json(rag.query(q1(person, obs)), time.perf_counter())
    assert set(got) == set(want) and isinstance(got["seconds"], float)
    got.pop("seconds"), want.pop("seconds")
    assert got == json.loads(json.dumps(want))   # the same serialisation as the CLI
    assert got["short_answer"] == str(year) and got["citations"][0]["doc_id"] == f"{obs.lower()}.txt"
    status, got = post_json(api, "/api/ask", {"question": q1(person, obs), "k": 2, "mode": "bm25"})
    assert status == 200 and len(got["passages"]) == 2


def test_ask_with_history_answers_the_follow_up(api):
    person, obs, town, year = PEOPLE[3]
    _, first = post_json(api, "/api/ask", {"question": q1(person, obs)})
    history = [{"role": "user", "content": q1(person, obs)}, {"role": "assistant", "content": first["answer"]}]
    status, got = post_json(api, "/api/ask", {"question": "and where was he born?", "history": history})
    assert status == 200, got
    # the short answer is shown only when the reader is confident; the quote holds the town either way
    assert person in got["question"] and town in got["answer"]
    assert got["short_answer"] is None or town in got["short_answer"]   # e.g. "the mountain town of Kestwick"
    assert "Read as" in got["notice"]
    status, alone = post_json(api, "/api/ask", {"question": "and where was he born?"})
    assert status == 200 and person not in alone["question"]   # without the history, nothing to lean on


@pytest.mark.parametrize("payload, words", [
    ({}, "missing field 'question'"), ({"question": 12}, "got int"), ({"question": "   "}, "empty"),
    ({"question": "why?", "k": "5"}, "k"), ({"question": "why?", "k": 0}, "k"),
    ({"question": "why?", "k": 101}, "k"), ({"question": "why?", "mode": "magic"}, "unknown retrieval mode"),
    ({"question": "why?", "history": "hi"}, "history must be a list"),
    ({"question": "why?", "history": [{"role": "bot", "content": "x"}]}, "history[0]"),
    ({"question": "why?", "history": [{"role": "user", "content": 3}]}, "history[0]"),
    ({"question": "why?", "temperature": 1}, "unknown field 'temperature'"),
    ([1, 2], "JSON object")])
def test_ask_bad_input_is_a_one_line_400(api, payload, words):
    status, got = post_json(api, "/api/ask", payload)
    assert status == 400, got
    assert set(got) == {"error"} and words in got["error"] and "\n" not in got["error"]


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b""])
def test_ask_malformed_body_is_a_400(api, body):
    status, _, raw = request(api, "POST", "/api/ask", body, {"Content-Type": "application/json"})
    assert status == 400 and "error" in json.loads(raw)


def test_status_names_no_absolute_path(api, corpus_rag):
    corpus, rag = corpus_rag
    status, got = get_json(api, "/api/status")
    assert status == 200 and got["documents"] >= 10 and got["index"] == "idx"
    assert str(corpus.parent) not in json.dumps(got)


def test_openai_chat_completion_is_the_cited_answer(api):
    person, obs, town, year = PEOPLE[1]
    messages = [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": q1(person, obs)}]
    status, got = post_json(api, "/v1/chat/completions", {"model": "gpt-4o", "messages": messages,
                                                          "temperature": 0.2})
    assert status == 200, got
    assert got["object"] == "chat.completion" and got["model"] == "gpt-4o" and got["id"].startswith("chatcmpl-")
    choice = got["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
    content = choice["message"]["content"]
    assert str(year) in content and "[1]" in content
    assert f"Sources:\n[1] The {obs} observatory ({obs.lower()}.txt, characters" in content
    assert got["rag"]["short_answer"] in (None, str(year)) and got["rag"]["citations"]
    # a follow-up through the messages, with content as a list of text parts
    messages += [{"role": "assistant", "content": content},
                 {"role": "user", "content": [{"type": "text", "text": "and where was he born?"}]}]
    status, got = post_json(api, "/v1/chat/completions", {"messages": messages})
    assert status == 200 and f"born in the mountain town of {town}" in got["choices"][0]["message"]["content"]


def test_openai_streaming_sends_deltas_then_done(api):
    person, obs, town, year = PEOPLE[2]
    body = {"messages": [{"role": "user", "content": q1(person, obs)}]}
    _, plain = post_json(api, "/v1/chat/completions", body)
    status, headers, raw = request(api, "POST", "/v1/chat/completions", json.dumps(dict(body, stream=True)),
                                   {"Content-Type": "application/json"})
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    events = [e for e in raw.decode().split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events) and events[-1] == "data: [DONE]"
    chunks = [json.loads(e[len("data: "):]) for e in events[:-1]]
    assert len(chunks) >= 3 and all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == plain["choices"][0]["message"]["content"]
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None] * (len(chunks) - 1) + ["stop"]
    assert chunks[-1]["rag"]["short_answer"] == str(year)


@pytest.mark.parametrize("payload, words", [
    ({}, "messages"), ({"messages": []}, "messages"), ({"messages": [{"role": "assistant", "content": "x"}]},
                                                       "last message"),
    ({"messages": [{"role": "user", "content": 5}]}, "content"),
    ({"messages": [{"role": "user", "content": "hi"}], "stream": "yes"}, "stream"),
    ({"messages": [{"role": "user", "content": "  "}]}, "empty")])
def test_openai_bad_input_is_an_openai_error(api, payload, words):
    status, got = post_json(api, "/v1/chat/completions", payload)
    assert status == 400, got
    assert got["error"]["type"] == "invalid_request_error" and words in got["error"]["message"]


def test_openai_models(api):
    status, got = get_json(api, "/v1/models")
    assert status == 200 and got["object"] == "list" and got["data"][0]["id"] == "rag-offline"


# ---- login: open on loopback without one; with one, Basic, Bearer or Gradio's cookie ------------

ROUTES = [("POST", "/api/ask", {"question": "When was the Quillmarsh observatory founded?"}),
          ("GET", "/api/status", None), ("GET", "/api/documents", None), ("DELETE", "/api/documents/x.txt", None),
          ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "When was it founded?"}]}),
          ("GET", "/v1/models", None)]


def call(url, method, path, payload, headers=None):
    body = json.dumps(payload).encode() if payload is not None else None
    return request(url, method, path, body, dict({"Content-Type": "application/json"}, **(headers or {})))


def test_without_login_on_loopback_the_api_is_open(api):
    for method, path, payload in ROUTES[:2] + ROUTES[4:]:
        assert call(api, method, path, payload)[0] == 200, path


@pytest.mark.parametrize("headers", [
    {}, basic("reader", "wrong"), basic("someone", "s3cret-pw"), {"Authorization": "Bearer wrong"},
    {"Authorization": "Bearer "}, {"Authorization": "Basic !!notbase64"}, {"Authorization": "s3cret-pw"},
    {"Cookie": "access-token=forged; access-token-unsecure=forged"}])
def test_with_login_every_route_refuses_without_the_right_credentials(auth_api, headers):
    for method, path, payload in ROUTES:
        status, hdrs, raw = call(auth_api, method, path, payload, headers)
        assert status == 401, (path, status, raw)
        assert "error" in json.loads(raw) and b"Quillmarsh" not in raw
    assert call(auth_api, "GET", "/api/status", None, headers)[1]["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize("headers", [basic(*LOGIN), {"Authorization": "Bearer s3cret-pw"},
                                     {"Authorization": "Bearer reader:s3cret-pw"}])
def test_with_login_basic_and_bearer_are_let_in(auth_api, headers):
    for method, path, payload in ROUTES[:2] + ROUTES[4:]:
        status, _, raw = call(auth_api, method, path, payload, headers)
        assert status == 200, (path, raw)


def test_with_login_the_ui_login_cookie_is_let_in(auth_api):
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    data = f"username={LOGIN[0]}&password={LOGIN[1]}".encode()
    with opener.open(urllib.request.Request(auth_api + "/login", data=data), timeout=30) as resp:
        assert resp.status == 200
    def ask():
        return urllib.request.Request(auth_api + "/api/ask", headers={"Content-Type": "application/json"},
                                      data=json.dumps({"question": q1(*PEOPLE[5][:2])}).encode())
    with opener.open(ask(), timeout=60) as resp:
        assert resp.status == 200 and json.loads(resp.read())["short_answer"] == str(PEOPLE[5][3])
    with pytest.raises(urllib.error.HTTPError) as err:   # the same request without the cookie
        urllib.request.urlopen(ask(), timeout=60)
    assert err.value.code == 401


def test_off_loopback_without_login_the_server_refuses_to_start(monkeypatch):
    from rag_ui.server import launch
    from rag_ui.security import ServeError

    monkeypatch.delenv("RAG_AUTH", raising=False)
    with pytest.raises(ServeError, match="without a login"):
        launch(host="0.0.0.0")


# ---- documents -----------------------------------------------------------------------------------

def test_documents_list_add_ask_remove(api, corpus_rag):
    corpus, rag = corpus_rag
    status, got = get_json(api, "/api/documents")
    assert status == 200 and {f"{p[1].lower()}.txt" for p in PEOPLE} <= {d["id"] for d in got["documents"]}
    assert isinstance(got["skipped"], list)
    text = b"The Zephyrine canal\n\nThe Zephyrine canal was dug by 4,312 workers in 1761.\n"
    status, added = request(api, "POST", "/api/documents", *multipart([("zephyrine.txt", text)]))[::2]
    added = json.loads(added)
    assert status == 200 and len(added["added"]) == 1, added
    doc_id = added["added"][0]
    _, listed = get_json(api, "/api/documents")
    assert doc_id in {d["id"] for d in listed["documents"]}
    _, answer = post_json(api, "/api/ask", {"question": "How many workers dug the Zephyrine canal?"})
    assert "4,312" in answer["answer"] and answer["citations"][0]["doc_id"] == doc_id
    status, got = request(api, "DELETE", "/api/documents/" + doc_id)[::2]
    assert status == 200 and json.loads(got) == {"removed": doc_id, "file_deleted": False}
    _, listed = get_json(api, "/api/documents")
    assert doc_id not in {d["id"] for d in listed["documents"]}
    status, got = request(api, "DELETE", "/api/documents/" + doc_id)[::2]
    assert status == 404 and "error" in json.loads(got)


def test_documents_bad_uploads(api):
    status, _, raw = request(api, "POST", "/api/documents", b"{}", {"Content-Type": "application/json"})
    assert status == 400 and "multipart" in json.loads(raw)["error"]
    status, _, raw = request(api, "POST", "/api/documents", *multipart([("noise.bin", bytes(range(256)) * 64)]))
    got = json.loads(raw)
    assert status == 400 and got["added"] == [] and got["skipped"], got


# ---- several users at once ------------------------------------------------------------------------

def test_ten_concurrent_conversations_each_get_their_own_answers(api, corpus_rag):
    """Ten clients, each a two-turn conversation about its own person, all at once (and, when the
    library manages documents, while a document is being added): every follow-up is read against
    that client's own history and answered from that client's own document."""
    adding = hasattr(corpus_rag[1], "add_files")
    start = threading.Barrier(len(PEOPLE) + adding)

    def client(i):
        person, obs, town, year = PEOPLE[i]
        start.wait()
        out = []
        for _ in range(3):
            _, first = post_json(api, "/api/ask", {"question": q1(person, obs)})
            history = [{"role": "user", "content": q1(person, obs)},
                       {"role": "assistant", "content": first["answer"]}]
            _, second = post_json(api, "/api/ask", {"question": "and where was he born?", "history": history})
            out.append((first, second))
        return out

    def add():
        start.wait()
        text = b"The Brisewater mill\n\nThe Brisewater mill ground 912 sacks of barley in 1790.\n"
        return request(api, "POST", "/api/documents", *multipart([("brisewater.txt", text)]))

    with ThreadPoolExecutor(len(PEOPLE) + 1) as pool:
        adder = pool.submit(add) if adding else None
        results = list(pool.map(client, range(len(PEOPLE))))
    for (person, obs, town, year), turns in zip(PEOPLE, results):
        for first, second in turns:
            # a short answer, when shown, holds this client's own year and town (the reader may keep a few words
            # around them: "the mountain town of Ulsbury")
            assert first["short_answer"] is None or str(year) in first["short_answer"], first["short_answer"]
            assert str(year) in first["answer"], first["answer"]
            assert {c["doc_id"] for c in first["citations"]} == {f"{obs.lower()}.txt"}
            assert second["question"] == f"Where was {person} born?", second["question"]
            assert second["short_answer"] is None or town in second["short_answer"], second["short_answer"]
            assert town in second["answer"], second["answer"]
            assert {c["doc_id"] for c in second["citations"]} == {f"{obs.lower()}.txt"}
    if adder is not None:
        status, _, raw = adder.result()
        assert status == 200, raw
        _, answer = post_json(api, "/api/ask", {"question": "How many sacks of barley did the Brisewater mill grind?"})
        assert "912" in answer["answer"]
