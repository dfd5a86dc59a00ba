"""rag.chats: conversations per owner in SQLite (create, list, search, rename, delete, append), and one
owner never reaching another's conversation, whatever the operation."""
import json
import os
import sqlite3
import stat
import threading

import pytest

from rag import Config
from rag.chats import MAX_TITLE, ChatStore, store_for, title_of
from rag.errors import ConversationError


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        self.now += 1
        return self.now


@pytest.fixture
def store(tmp_path):
    return ChatStore(tmp_path / "sub" / "chats.sqlite3", clock=Clock())


def test_create_append_get_round_trip(store):
    conv = store.create("ann", "Observatories")
    assert conv["title"] == "Observatories" and conv["turns"] == 0 and len(conv["id"]) >= 16
    answer = {"answer": "In 1803 [1]", "sources": [{"marker": 1, "doc": "a.txt", "quotes": [[3, 9]]}]}
    assert store.append("ann", conv["id"], "When?", answer) == 0
    assert store.append("ann", conv["id"], "Where?", {"answer": "Dravik"}) == 1
    got = store.get("ann", conv["id"])
    assert [t["question"] for t in got["turns"]] == ["When?", "Where?"]
    assert got["turns"][0]["answer"] == answer            # the JSON comes back as stored
    assert got["updated"] > got["created"]


def test_list_is_per_owner_newest_first_with_counts(store):
    a = store.create("ann", "first")
    b = store.create("ann", "second")
    store.create("bob", "bob's")
    store.append("ann", a["id"], "q", {"answer": "x"})    # a is now the most recently updated
    listed = store.list("ann")
    assert [c["title"] for c in listed] == ["first", "second"]
    assert [c["turns"] for c in listed] == [1, 0]
    assert [c["title"] for c in store.list("bob")] == ["bob's"]
    assert store.list("carol") == []
    assert b["id"] in {c["id"] for c in listed}


def test_search_finds_titles_questions_and_answers_case_insensitively(store):
    a = store.start("ann", "Who founded Quillmarsh?", {"answer": "Orlanth Veyne founded it"})
    store.create("ann", "Comets")
    b = store.start("ann", "Something else", {"answer": "nothing"})
    assert [c["id"] for c in store.list("ann", "quillMARSH")] == [a["id"]]     # in the question
    assert [c["id"] for c in store.list("ann", "veyne")] == [a["id"]]          # in the answer
    assert [c["title"] for c in store.list("ann", "comets")] == ["Comets"]     # in the title
    assert store.list("ann", "100%") == [] and store.list("ann", "_") == []    # LIKE wildcards are literal
    assert len(store.list("ann", "  ")) == 3 and store.list("bob", "veyne") == []
    assert b["turns"] == 1


def test_rename_and_delete(store):
    conv = store.start("ann", "q1", {"answer": "a1"})
    store.rename("ann", conv["id"], "  A   better\ttitle ")
    assert store.get("ann", conv["id"])["title"] == "A better title"
    with pytest.raises(ConversationError):
        store.rename("ann", conv["id"], "   ")
    assert len(store.rename("ann", conv["id"], "x" * 500)["title"]) == MAX_TITLE
    store.delete("ann", conv["id"])
    assert store.list("ann") == []
    with pytest.raises(ConversationError, match="no saved conversation"):
        store.get("ann", conv["id"])
    with sqlite3.connect(store.path) as conn:   # its turns went with it
        assert conn.execute("SELECT COUNT(*) FROM turns").fetchone()[0] == 0


@pytest.mark.parametrize("operation", [
    lambda s, i: s.get("bob", i), lambda s, i: s.rename("bob", i, "mine now"), lambda s, i: s.delete("bob", i),
    lambda s, i: s.append("bob", i, "q", {"answer": "a"})])
def test_another_owner_cannot_reach_a_conversation(store, operation):
    conv = store.start("ann", "private question", {"answer": "private answer"})
    with pytest.raises(ConversationError, match="no saved conversation") as caught:
        operation(store, conv["id"])
    with pytest.raises(ConversationError) as unknown:
        store.get("bob", "no-such-id")
    assert str(caught.value).split("'")[0] == str(unknown.value).split("'")[0]   # same as an unknown id
    got = store.get("ann", conv["id"])   # untouched
    assert got["title"] == "private question" and len(got["turns"]) == 1


def test_titles_from_questions():
    assert title_of("  How many   soldiers?  ") == "How many soldiers?"
    long = "word " * 40
    assert title_of(long).endswith("…") and len(title_of(long)) <= MAX_TITLE // 2 + 1
    assert title_of("") == "New conversation"


def test_the_database_is_private_and_in_wal_mode(store):
    store.create("ann", "t")
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_answers_must_be_json(store):
    conv = store.create("ann", "t")
    with pytest.raises(ConversationError, match="JSON"):
        store.append("ann", conv["id"], "q", {"x": object()})
    with pytest.raises(ConversationError, match="JSON"):
        store.append("ann", conv["id"], "q", {"x": float("nan")})


def test_concurrent_appends_keep_every_turn_in_order(store):
    conv = store.create("ann", "t")
    errors = []

    def work(k):
        try:
            for i in range(10):
                store.append("ann", conv["id"], f"{k}-{i}", {"i": i})
        except Exception as exc:   # noqa: BLE001
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    turns = store.get("ann", conv["id"])["turns"]
    assert len(turns) == 40
    for k in range(4):   # each writer's turns in its own order
        mine = [int(t["question"].split("-")[1]) for t in turns if t["question"].startswith(f"{k}-")]
        assert mine == list(range(10))


def test_default_path_is_inside_the_index_folder_and_configurable(tmp_path):
    config = Config(corpus_dir=tmp_path / "docs", index_dir=tmp_path / "idx")
    assert config.chats_path() == tmp_path / "idx" / "chats.sqlite3"
    assert store_for(config) is store_for(config)
    other = Config(corpus_dir=tmp_path / "docs", index_dir=tmp_path / "idx", chats_db=str(tmp_path / "c.db"))
    assert other.chats_path() == tmp_path / "c.db" and store_for(other).path == tmp_path / "c.db"


def test_an_unwritable_place_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConversationError, match="chats_db") as caught:
        ChatStore(blocker / "chats.sqlite3").create("ann", "t")
    assert "\n" not in str(caught.value)
    assert json.dumps(str(caught.value))
