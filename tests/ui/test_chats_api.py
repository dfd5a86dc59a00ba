"""Saved conversations over the HTTP API (ui/chats_api.py, /api/ask with conversation_id) with two
accounts from a users file (rag.users) behind the Gate: each lists, reads, continues, renames and
deletes only their own; another account's id is a 404 like an unknown one; the follow-up of a saved
conversation is read against its stored turns."""
import pytest

from apiserver import PEOPLE, basic, get_json, open_rag, post_json, request, serve, write_corpus

ANN, BOB = ("ann", "ann-password-1"), ("bob", "bob-password-1")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from rag.users import Users
    from rag_ui.gate import Accounts, Throttle

    base = tmp_path_factory.mktemp("chats")
    write_corpus(base / "corpus")
    rag = open_rag(base / "corpus", base / "idx")
    users = Users(rag.config.users_path())
    users.add(*ANN)
    users.add(*BOB)
    with serve(rag, Accounts(users=users), throttle=Throttle(free=10 ** 6), api_only=True) as url:
        yield url, rag


def ask(url, who, question, **extra):
    return post_json(url, "/api/ask", dict(question=question, **extra), basic(*who))


def test_a_saved_conversation_is_continued_by_id(site):
    url, _ = site
    person, obs, town, year = PEOPLE[1]
    status, first = ask(url, ANN, f"When did {person} found the {obs} observatory?", conversation_id="new")
    assert status == 200, first
    cid = first["conversation_id"]
    assert first["short_answer"] == str(year)
    # the follow-up names nothing: only the stored first turn says whom it is about
    status, second = ask(url, ANN, "where was he born?", conversation_id=cid)
    assert status == 200 and second["conversation_id"] == cid
    assert town in second["answer"], second["answer"]
    status, conv = get_json(url, f"/api/conversations/{cid}", basic(*ANN))
    assert status == 200 and [t["question"] for t in conv["turns"]] == [
        f"When did {person} found the {obs} observatory?", "where was he born?"]
    sources = conv["turns"][0]["answer"]["sources"]   # the answer is kept with its sources and quotes
    assert sources[0]["doc"] == f"{obs.lower()}.txt" and sources[0]["quotes"]
    assert conv["title"].startswith(f"When did {person}")
    status, listed = get_json(url, "/api/conversations", basic(*ANN))
    assert status == 200 and cid in [c["id"] for c in listed["conversations"]]
    assert next(c for c in listed["conversations"] if c["id"] == cid)["turns"] == 2


def test_two_accounts_cannot_see_each_others_conversations(site):
    url, _ = site
    person, obs, _, _ = PEOPLE[2]
    _, ann = ask(url, ANN, f"When did {person} found the {obs} observatory?", conversation_id="new")
    _, bob = ask(url, BOB, "Who founded the Ashcombe observatory?", conversation_id="new")
    a, b = ann["conversation_id"], bob["conversation_id"]
    ann_ids = {c["id"] for c in get_json(url, "/api/conversations", basic(*ANN))[1]["conversations"]}
    bob_ids = {c["id"] for c in get_json(url, "/api/conversations", basic(*BOB))[1]["conversations"]}
    assert a in ann_ids and b in bob_ids and not ann_ids & bob_ids
    # every way of reaching ann's conversation as bob is a 404, like an id that does not exist
    unknown = get_json(url, "/api/conversations/no-such-id", basic(*BOB))
    assert unknown[0] == 404
    for method, path, body in [("GET", f"/api/conversations/{a}", None),
                               ("PATCH", f"/api/conversations/{a}", b'{"title": "mine"}'),
                               ("DELETE", f"/api/conversations/{a}", None)]:
        status, _, _ = request(url, method, path, body, dict(basic(*BOB), **{"Content-Type": "application/json"}))
        assert status == 404, (method, status)
    status, got = ask(url, BOB, "and where was he born?", conversation_id=a)
    assert status == 404 and "no saved conversation" in got["error"]
    status, kept = get_json(url, f"/api/conversations/{a}", basic(*ANN))   # untouched by bob's attempts
    assert status == 200 and len(kept["turns"]) == 1 and kept["title"].startswith("When did")
    # search stays within the owner's chats
    assert get_json(url, f"/api/conversations?q={obs}", basic(*BOB))[1]["conversations"] == []
    assert a in {c["id"] for c in get_json(url, f"/api/conversations?q={obs}", basic(*ANN))[1]["conversations"]}


def test_create_rename_delete(site):
    url, _ = site
    status, conv = post_json(url, "/api/conversations", {"title": "Reading list"}, basic(*ANN))
    assert status == 201 and conv["turns"] == 0
    cid = conv["id"]
    status, _, body = request(url, "PATCH", f"/api/conversations/{cid}", b'{"title": "Comets"}',
                              dict(basic(*ANN), **{"Content-Type": "application/json"}))
    assert status == 200 and b"Comets" in body
    status, _, body = request(url, "PATCH", f"/api/conversations/{cid}", b'{"title": "  "}',
                              dict(basic(*ANN), **{"Content-Type": "application/json"}))
    assert status == 400
    assert get_json(url, f"/api/conversations?q=comets", basic(*ANN))[1]["conversations"][0]["id"] == cid
    status, _, _ = request(url, "DELETE", f"/api/conversations/{cid}", headers=basic(*ANN))
    assert status == 200
    assert get_json(url, f"/api/conversations/{cid}", basic(*ANN))[0] == 404


def test_bad_requests(site):
    url, _ = site
    assert ask(url, ANN, "Who founded it?", conversation_id=7)[0] == 400
    assert ask(url, ANN, "Who founded it?", conversation_id="new",
               history=[{"role": "user", "content": "x"}])[0] == 400
    assert post_json(url, "/api/conversations", {"name": "x"}, basic(*ANN))[0] == 400
    # without a login nothing is reachable; with a wrong password neither
    assert get_json(url, "/api/conversations")[0] == 401
    assert get_json(url, "/api/conversations", basic("ann", "bob-password-1"))[0] == 401


def test_ask_without_conversation_id_saves_nothing(site):
    url, _ = site
    before = len(get_json(url, "/api/conversations", basic(*BOB))[1]["conversations"])
    status, got = ask(url, BOB, "Who founded the Ashcombe observatory?")
    assert status == 200 and "conversation_id" not in got
    assert len(get_json(url, "/api/conversations", basic(*BOB))[1]["conversations"]) == before


def test_streamed_answers_are_saved_too(site):
    import json

    url, _ = site
    status, _, body = request(url, "POST", "/api/ask", json.dumps(
        {"question": "Who founded the Hollowmere observatory?", "conversation_id": "new", "stream": True}).encode(),
        dict(basic(*ANN), **{"Content-Type": "application/json"}))
    assert status == 200
    events = [json.loads(line[6:]) for line in body.decode().splitlines() if line.startswith("data: ")]
    cid = events[-1]["answer"]["conversation_id"]
    conv = get_json(url, f"/api/conversations/{cid}", basic(*ANN))[1]
    assert conv["turns"][0]["question"] == "Who founded the Hollowmere observatory?"
