"""Which documents a question may be answered from: a ``Scope`` (folders, file types, picked documents).

``Scope(folders=("reports",), types=("pdf",), documents=())`` limits a question to documents by
where they are and what type they are. Where: a document is in the scope when it is in one of
the ``folders`` (folders of the corpus, relative to it: "reports" holds "reports/a.pdf" and
"reports/2024/b.docx"; a file's own path holds that file; "" or "." is the whole corpus) or is
one of the ``documents`` (document ids, as ``rag docs`` lists them); with neither given, every
document is. Type: its file type is one of ``types`` ("pdf", ".PDF" and "PDF" are the same;
none given: any type). So ``folders=["reports"], documents=["memo.md"]`` is everything in
reports/ plus memo.md, and adding ``types=["pdf"]`` keeps only the PDFs of those. ``Scope.of(value)`` accepts ``None`` (no scope), a ``Scope`` or a dict with
those three keys (what the HTTP API takes), each a string or a list of strings, and raises
``QuestionError`` (one line naming the bad value) for anything else.

``Allowed`` is a scope resolved against one index version: a mask over its documents and its
chunk rows. The retriever searches only those rows (rag.storage.dense with a FAISS ID
selector, rag.storage.lexical with a weight mask), so the k best passages of a scope are
the k best among its own passages, however far below the top k they rank in the whole
index. A scope that matches no indexed document raises ``QuestionError`` saying so.
Does not search (rag.retrieve.retriever) nor read the file system.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np

from rag.errors import QuestionError

FACETS = ("folders", "types", "documents")


def _short(value) -> str:
    text = " ".join(ascii(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _strings(name: str, value) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise QuestionError(f"scope {name} must be a list of strings, got {type(value).__name__} {_short(value)}")
    out = []
    for v in value:
        if not isinstance(v, str):
            raise QuestionError(f"scope {name} must hold strings, got {type(v).__name__} {_short(v)}")
        out.append(v)
    return tuple(out)


def _folder(value: str) -> str:
    """A corpus-relative folder, "/"-separated, no leading "./" or trailing "/"; "" is the whole corpus."""
    text = value.strip().replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise QuestionError(f"scope folder {_short(value)} must be relative to the indexed folder, not absolute")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise QuestionError(f"scope folder {_short(value)} must stay inside the indexed folder (no '..')")
    return "/".join(parts)


def _type(value: str) -> str:
    text = value.strip().lstrip(".").lower()
    if not text or not all(c.isalnum() for c in text):
        raise QuestionError(f"scope type {_short(value)} is not a file type: give an extension such as 'pdf'")
    return text


@dataclass(frozen=True)
class Scope:
    """The documents a question may be answered from (see the module docstring)."""

    folders: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()

    def __post_init__(self):
        folders = tuple(dict.fromkeys(_folder(f) for f in _strings("folders", self.folders)))
        types = tuple(dict.fromkeys(_type(t) for t in _strings("types", self.types)))
        docs = _strings("documents", self.documents)
        if any(not d.strip() for d in docs):
            raise QuestionError("scope documents must be document ids, got an empty string")
        object.__setattr__(self, "folders", () if "" in folders else folders)   # the whole corpus: no limit
        object.__setattr__(self, "types", types)
        object.__setattr__(self, "documents", tuple(dict.fromkeys(docs)))

    @classmethod
    def of(cls, value) -> "Scope | None":
        """None (no scope, also for a scope with no facet), or the checked Scope of value."""
        if value is None:
            return None
        if isinstance(value, Scope):
            scope = value
        elif isinstance(value, dict):
            unknown = sorted(str(k) for k in value if k not in FACETS)
            if unknown:
                raise QuestionError(f"unknown scope key {_short(unknown[0])}: use folders, types, documents")
            scope = cls(**{k: _strings(k, value.get(k)) for k in FACETS})
        else:
            raise QuestionError(f"where must be a Scope or a dict of folders, types, documents; got "
                                f"{type(value).__name__} {_short(value)}")
        return scope if scope else None

    def __bool__(self) -> bool:
        return bool(self.folders or self.types or self.documents)

    def to_dict(self) -> dict:
        return {"folders": list(self.folders), "types": list(self.types), "documents": list(self.documents)}

    def describe(self) -> str:
        """In words: "folder reports, type pdf" (for messages)."""
        parts = []
        for name, values in (("folder", self.folders), ("type", self.types), ("document", self.documents)):
            if values:
                parts.append(f"{name}{'s' if len(values) > 1 else ''} " + ", ".join(values))
        return "; ".join(parts)

    def admits(self, doc_id: str, kind: str | None = None) -> bool:
        """Whether the document doc_id (of file type kind, default its extension) is in the scope."""
        if self.types and (kind or PurePosixPath(doc_id).suffix.lstrip(".")).lower() not in self.types:
            return False
        if not self.folders and not self.documents:
            return True
        return doc_id in self.documents or any(doc_id == f or doc_id.startswith(f + "/") for f in self.folders)


@dataclass(frozen=True)
class Allowed:
    """A scope resolved against one index version."""

    scope: Scope
    docs: np.ndarray      # bool [documents]: manifest documents in the scope
    chunks: np.ndarray    # bool [chunks]: chunk rows of those documents
    rows: np.ndarray      # int64: the allowed chunk rows, ascending

    @property
    def count(self) -> int:
        return int(self.docs.sum())


def resolve(scope: Scope, documents: list[dict], chunk_doc: np.ndarray) -> Allowed:
    """The rows of scope in a version (documents: the manifest's; chunk_doc: each chunk row's
    document number); QuestionError when no indexed document is in it."""
    docs = np.fromiter((scope.admits(d["id"], d.get("kind")) for d in documents), dtype=bool,
                       count=len(documents))
    if not docs.any():
        raise QuestionError(f"no indexed document is in the scope ({scope.describe()}): "
                            f"{len(documents)} documents are indexed; `rag docs` lists them")
    chunks = docs[chunk_doc]
    return Allowed(scope, docs, chunks, np.flatnonzero(chunks))
