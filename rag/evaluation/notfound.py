"""Measure the "not in the documents" rule in three settings (used by ``rag eval``).

  removed      the whole corpus, each question asked twice: with its own article
               present (answerable) and with that article's passages taken out of
               the results (not answerable)
  single-doc   each article indexed alone as a one-document corpus, asked its own
               questions (answerable) and as many questions drawn from other
               articles (not answerable)
  unanswerable a SQuAD 2.0-style ``questions.jsonl`` (``is_impossible``): questions
               written to look answerable from their paragraph
Each gives the share of answerable questions answered, of unanswerable ones
refused, their balanced accuracy, and the AUROC of the answer's evidence score.
An "article" is a document title shared by several documents (SQuAD paragraphs).
Does not tune the threshold: bench/calibrate_threshold.py prints the trade-offs.
"""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np

from rag.build.builder import build_index
from rag.evaluation import metrics
from rag.ingest.read import Document, sha256_bytes


def summary(pos: list[float], neg: list[float], threshold: float) -> dict:
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    tpr, tnr = float((pos >= threshold).mean()), float((neg < threshold).mean())
    return {"answerable": len(pos), "unanswerable": len(neg), "answered": round(tpr, 4),
            "refused": round(tnr, 4), "balanced_accuracy": round((tpr + tnr) / 2, 4),
            "auroc": round(metrics.auroc(pos, neg), 4)}


def _score(rag, question, qvec, passages) -> float:
    passages = [replace(p, rank=r) for r, p in enumerate(passages[:rag.config.top_k], 1)]
    return rag.answer(question, passages, qvec).score if passages else 0.0


def removed_scores(rag, ds, qids, qvecs) -> tuple[list, list]:
    article = {d.id: d.title for d in ds.documents}
    pos, neg = [], []
    for q in qids:
        own = {article[d] for d in ds.qrels[q]}
        passages = rag.search(ds.queries[q], k=100, qvec=qvecs[q])
        pos.append(_score(rag, ds.queries[q], qvecs[q], passages))
        neg.append(_score(rag, ds.queries[q], qvecs[q], [p for p in passages if article[p.doc_id] not in own]))
    return pos, neg


def article_documents(ds) -> dict[str, Document]:
    """One document per article: its title line, then its paragraphs' bodies, one a line."""
    bodies: dict[str, list[str]] = {}
    for d in ds.documents:
        bodies.setdefault(d.title, []).append(d.text.split("\n", 1)[-1])
    out = {}
    for title, parts in bodies.items():
        text = title + "\n" + "\n".join(parts)
        out[title] = Document(id=title, title=title, text=text, sha256=sha256_bytes(text.encode()))
    return out


def single_doc_config(config, doc: Document, cache: Path):
    """The configuration of doc's one-document index, cached under cache/ by content and settings."""
    key = hashlib.sha256(json.dumps([doc.sha256, config.index_settings()], sort_keys=True).encode())
    return replace(config, index_dir=Path(cache) / f"single-{key.hexdigest()[:16]}")


def single_doc_scores(config, ds, qids, qvecs, cache: Path, embedder, *, answerer=None, seed: int = 0):
    """Each article's one-document index is built (or reused) under cache/."""
    from rag.api import Rag

    article = {d.id: d.title for d in ds.documents}
    by_article: dict[str, list[str]] = {}
    for q in qids:
        by_article.setdefault(article[next(iter(ds.qrels[q]))], []).append(q)
    docs, rng, pos, neg = article_documents(ds), random.Random(seed), [], []
    for title, own in sorted(by_article.items()):
        doc = docs[title]
        one = single_doc_config(config, doc, cache)
        build_index(one, embedder=embedder, documents=[doc])
        rag = Rag(one, embedder=embedder, answerer=answerer)
        others = rng.sample([q for q in qids if article[next(iter(ds.qrels[q]))] != title], len(own))
        for q, bucket in [(q, pos) for q in own] + [(q, neg) for q in others]:
            passages = rag.search(ds.queries[q], qvec=qvecs[q])
            bucket.append(_score(rag, ds.queries[q], qvecs[q], passages))
    return pos, neg


def load_questions(folder: Path) -> list[dict]:
    path = Path(folder) / "questions.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def unanswerable_scores(rag, rows: list[dict], qvecs: dict, texts: dict) -> tuple[list, list]:
    pos, neg = [], []
    for r in rows:
        q = r["query-id"]
        passages = rag.search(texts[q], qvec=qvecs[q])
        (neg if r["is_impossible"] else pos).append(_score(rag, texts[q], qvecs[q], passages))
    return pos, neg
