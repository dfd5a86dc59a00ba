"""Saved conversations, per user, in one SQLite database (stdlib sqlite3, WAL).

``ChatStore(path)`` keeps conversations (an unguessable id, its owner, a title, when it was created and
last updated) and their turns (the question and the answer as JSON: whatever the caller stores, e.g.
the web page's turn with its sources and citations). Every query names the owner, so a user can only
ever see, rename, continue or delete their own conversations: another user's id behaves exactly like
an id that does not exist (``ConversationError``, which the HTTP API answers with 404). The owner is a
user name (``""``: the one local user of a server without accounts).

The database is ``Config.chats_path()`` (``Config.chats_db``, default ``chats.sqlite3`` inside the index
folder; never the corpus folder), created with its folder on first use, readable by its owner only
(0600). WAL lets readers run while one writer appends; each call opens its own short connection, so
the store may be shared by threads and processes. Does not know about Rag, answers or HTTP.
"""
from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

from rag.errors import ConversationError

MAX_TITLE = 120          # characters of a title
MAX_QUESTION = 20_000    # characters of a stored question
MAX_LIST = 500           # conversations listed at most
SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, title TEXT NOT NULL,
    created REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_by_owner ON conversations (owner, updated);
CREATE TABLE IF NOT EXISTS turns (
    conversation TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    n INTEGER NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (conversation, n));
"""


def title_of(question: str) -> str:
    """A conversation's default title: its first question on one line, cut at a word near MAX_TITLE // 2."""
    text = " ".join(str(question).split())
    limit = MAX_TITLE // 2
    if len(text) <= limit:
        return text or "New conversation"
    cut = text[:limit].rsplit(" ", 1)[0]
    return (cut if len(cut) > limit // 2 else text[:limit]) + "…"


def _title(title) -> str:
    if not isinstance(title, str) or not " ".join(title.split()):
        raise ConversationError("a conversation title must be a non-empty text")
    return " ".join(title.split())[:MAX_TITLE]


def _owner(owner) -> str:
    if not isinstance(owner, str):
        raise ConversationError("a conversation owner must be a user name")
    return owner


class ChatStore:
    """Conversations and their turns in the SQLite database at path (see the module docstring)."""

    def __init__(self, path, *, clock=time.time):
        self.path = Path(path)
        self.clock = clock
        self._ready = False
        self._lock = threading.Lock()

    # ---- connection ---------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            with self._lock:
                if not self._ready:
                    self._create()
        try:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        except sqlite3.Error as exc:
            raise ConversationError(f"{self.path}: cannot open the saved conversations ({exc})") from None
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 10000")
        return conn

    def _create(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
            with closing(sqlite3.connect(self.path, timeout=10, isolation_level=None)) as conn:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConversationError(f"{self.path}: cannot create the saved conversations ({exc}); "
                                    "set Config.chats_db to a writable file") from None
        self._ready = True

    def _run(self, work):
        """work(conn) inside one transaction; sqlite errors as one-line ConversationError."""
        try:
            with closing(self._connect()) as conn:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    out = work(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                return out
        except sqlite3.Error as exc:
            raise ConversationError(f"{self.path}: saved conversations failed ({type(exc).__name__}: {exc})") from None

    @staticmethod
    def _row(row) -> dict:
        return {"id": row[0], "title": row[1], "created": row[2], "updated": row[3], "turns": row[4]}

    @staticmethod
    def _owned(conn, owner: str, conversation_id) -> None:
        if not isinstance(conversation_id, str) or conn.execute(
                "SELECT 1 FROM conversations WHERE id = ? AND owner = ?", (conversation_id, owner)).fetchone() is None:
            raise ConversationError(f"no saved conversation {str(conversation_id)[:64]!r}")

    # ---- the operations -----------------------------------------------------------------------------
    def create(self, owner: str, title: str = "New conversation") -> dict:
        """A new, empty conversation of owner: {id, title, created, updated, turns: 0}."""
        owner, title, now = _owner(owner), _title(title), self.clock()
        ident = secrets.token_urlsafe(12)
        self._run(lambda conn: conn.execute(
            "INSERT INTO conversations (id, owner, title, created, updated) VALUES (?, ?, ?, ?, ?)",
            (ident, owner, title, now, now)))
        return {"id": ident, "title": title, "created": now, "updated": now, "turns": 0}

    def list(self, owner: str, search: str | None = None, limit: int = MAX_LIST) -> list[dict]:
        """owner's conversations, the most recently updated first: {id, title, created, updated, turns}.
        search: only those whose title, questions or answers contain it (case-insensitive)."""
        owner = _owner(owner)
        limit = max(1, min(int(limit), MAX_LIST))
        sql = ("SELECT c.id, c.title, c.created, c.updated, (SELECT COUNT(*) FROM turns t WHERE t.conversation = c.id) "
               "FROM conversations c WHERE c.owner = ?")
        args: list = [owner]
        words = " ".join(str(search or "").split())
        if words:
            pattern = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            sql += (" AND (c.title LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM turns t WHERE t.conversation = c.id "
                    "AND (t.question LIKE ? ESCAPE '\\' OR t.answer LIKE ? ESCAPE '\\')))")
            args += [pattern] * 3
        sql += " ORDER BY c.updated DESC, c.created DESC LIMIT ?"
        return self._run(lambda conn: [self._row(r) for r in conn.execute(sql, (*args, limit))])

    def get(self, owner: str, conversation_id: str) -> dict:
        """One conversation of owner with its turns: {id, title, created, updated, turns: [{question,
        answer, created}, ...]} (answer as stored); ConversationError if owner has none of that id."""
        owner = _owner(owner)

        def work(conn):
            self._owned(conn, owner, conversation_id)
            row = conn.execute("SELECT id, title, created, updated FROM conversations WHERE id = ?",
                               (conversation_id,)).fetchone()
            turns = [{"question": q, "answer": json.loads(a), "created": c} for q, a, c in conn.execute(
                "SELECT question, answer, created FROM turns WHERE conversation = ? ORDER BY n", (conversation_id,))]
            return {"id": row[0], "title": row[1], "created": row[2], "updated": row[3], "turns": turns}
        return self._run(work)

    def rename(self, owner: str, conversation_id: str, title: str) -> dict:
        owner, title = _owner(owner), _title(title)

        def work(conn):
            self._owned(conn, owner, conversation_id)
            conn.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))
        self._run(work)
        return {"id": conversation_id, "title": title}

    def delete(self, owner: str, conversation_id: str) -> None:
        owner = _owner(owner)

        def work(conn):
            self._owned(conn, owner, conversation_id)
            conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        self._run(work)

    def append(self, owner: str, conversation_id: str, question: str, answer) -> int:
        """Add a turn (question, answer: any JSON value) to owner's conversation; its number (0, 1, ...)."""
        owner = _owner(owner)
        if not isinstance(question, str):
            raise ConversationError("a turn's question must be a text")
        try:
            data = json.dumps(answer, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ConversationError(f"a turn's answer must be JSON: {exc}") from None
        now = self.clock()

        def work(conn):
            self._owned(conn, owner, conversation_id)
            n = conn.execute("SELECT COALESCE(MAX(n) + 1, 0) FROM turns WHERE conversation = ?",
                             (conversation_id,)).fetchone()[0]
            conn.execute("INSERT INTO turns (conversation, n, question, answer, created) VALUES (?, ?, ?, ?, ?)",
                         (conversation_id, n, question[:MAX_QUESTION], data, now))
            conn.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation_id))
            return n
        return self._run(work)

    def start(self, owner: str, question: str, answer) -> dict:
        """A new conversation of owner titled after question, with this first turn: its {id, title, ...}."""
        conv = self.create(owner, title_of(question))
        self.append(owner, conv["id"], question, answer)
        return dict(conv, turns=1)


_STORES: dict[str, ChatStore] = {}
_STORES_LOCK = threading.Lock()


def store_for(config) -> ChatStore:
    """The ChatStore of a Config (Config.chats_path()), one per database file in this process."""
    path = Path(config.chats_path())
    key = os.path.realpath(path)
    with _STORES_LOCK:
        if key not in _STORES:
            _STORES[key] = ChatStore(path)
        return _STORES[key]
