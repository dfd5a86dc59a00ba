"""Read a benchmark folder in BEIR layout into Documents, queries and judgments.

Layout: ``corpus.jsonl`` ({"_id", "title", "text"}), ``queries.jsonl`` ({"_id",
"text"}), ``qrels/<split>.tsv`` (header, then query-id, corpus-id, score), and
optionally ``answers.jsonl`` ({"query-id", "answers": [...]}). A document's text
is its title line followed by its body, as a file with a heading would be.
Does not handle BEIR's gzipped or HF-hub variants.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import CorpusError
from rag.ingest.read import Document, sha256_bytes


@dataclass
class Dataset:
    name: str
    documents: list[Document]
    queries: dict[str, str]                 # only queries that have judgments in the split
    qrels: dict[str, dict[str, int]]        # query id -> {doc id: relevance}
    answers: dict[str, list[str]] = field(default_factory=dict)


def _jsonl(path: Path):
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as exc:
                    raise CorpusError(f"{path}:{n}: not valid JSON ({exc})") from None


def load_beir(folder: Path, split: str = "test") -> Dataset:
    folder = Path(folder)
    need = [folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / f"{split}.tsv"]
    missing = [str(p) for p in need if not p.exists()]
    if missing:
        splits = sorted(p.stem for p in (folder / "qrels").glob("*.tsv")) if (folder / "qrels").is_dir() else []
        raise CorpusError(f"not a BEIR folder with split {split!r}: missing {', '.join(missing)}"
                          + (f" (splits here: {', '.join(splits)})" if splits else ""))
    docs = []
    for row in _jsonl(need[0]):
        title, body = (row.get("title") or "").strip(), (row.get("text") or "").strip()
        text = f"{title}\n{body}" if title else body
        docs.append(Document(id=str(row["_id"]), title=title or str(row["_id"]), text=text,
                             sha256=sha256_bytes(text.encode("utf-8"))))
    qrels: dict[str, dict[str, int]] = {}
    with open(need[2], encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        next(reader, None)
        for row in reader:
            if len(row) >= 3 and int(row[2]) > 0:
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    queries = {str(r["_id"]): r["text"] for r in _jsonl(need[1]) if str(r["_id"]) in qrels}
    answers = {}
    if (folder / "answers.jsonl").exists():
        answers = {str(r["query-id"]): list(r["answers"]) for r in _jsonl(folder / "answers.jsonl")}
    return Dataset(folder.name, docs, queries, qrels, answers)
