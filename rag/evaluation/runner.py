"""Evaluate retrieval and answers on a BEIR-layout data set, mode by mode.

Indexes the corpus with the project's own pipeline into a cache folder keyed by
the corpus hash and the index settings (reused when present), embeds every
query once, then for each mode ranks documents (a document scores as its best
passage) and reports nDCG@10, Recall@10, Recall@100, MRR@10, Hit@1/Hit@5, and
latency percentiles of the user path (embed, retrieve top_k, compose answer).
With ``answers.jsonl`` it also reports answer containment, answer length and
the short answer's SQuAD exact match and F1 (a missing short answer scores 0),
and, for the default mode, the not-found rule in the article-removed and
one-document settings (rag.evaluation.notfound); with ``questions.jsonl`` (SQuAD 2.0)
its AUROC on questions written to look answerable (``articles``: only the questions of those
SQuAD articles, named as in paragraph ids "Title_n", e.g. the reader's validation split:
``rag eval --articles validation``); the short answers' share shown and their precision
(F1 > 0); with a conversations file,
follow-up accuracy (rag.evaluation.followups); with config.llm_url, generated answers on
the first ``llm_limit`` questions beside extractive ones (containment, share of
supported sentences). The claim checker is measured by rag.evaluation.claimset.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from rag import assemble
from rag.api import Rag
from rag.build.builder import build_index
from rag.config import MODES, PROJECT_ROOT, Config
from rag.errors import RagError
from rag.evaluation import followups as convs
from rag.evaluation import metrics
from rag.evaluation import notfound as abst
from rag.evaluation.datasets import load_beir
from rag.storage.reader import FORMAT_VERSION, read_manifest

DEPTH = 100   # documents ranked per query for the metrics


@dataclass
class ModeResult:
    mode: str
    metrics: dict[str, float]
    latency_ms: dict[str, float]


@dataclass
class EvalReport:
    dataset: str
    split: str
    queries: int
    documents: int
    chunks: int
    build_seconds: float
    index_dir: str
    embed_ms: dict[str, float]
    modes: list[ModeResult] = field(default_factory=list)
    abstention: dict = field(default_factory=dict)
    followup: dict = field(default_factory=dict)
    generated: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _cache_dir(folder: Path, config: Config) -> Path:
    h = hashlib.sha256()
    with open(folder / "corpus.jsonl", "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    h.update(json.dumps([config.index_settings(), FORMAT_VERSION], sort_keys=True).encode())
    return PROJECT_ROOT / "index" / "eval" / f"{folder.name}-{h.hexdigest()[:12]}"


def _progress(done: int, total: int, t0: float, label: str) -> None:
    if done % 200 == 0 or done == total:
        print(f"  {label}: {done}/{total} queries, {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)


def evaluate(folder, *, split: str = "test", modes=None, config: Config | None = None,
             embedder=None, limit: int | None = None, index_dir=None, conversations=None,
             abstention: bool = True, llm_limit: int = 100, articles=None) -> EvalReport:
    """Run the evaluation; see the module docstring. modes defaults to all of MODES."""
    folder, config = Path(folder), config or Config()
    modes = list(modes or MODES)
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise RagError(f"unknown mode {unknown[0]!r}: choose from {', '.join(MODES)}")
    ds = load_beir(folder, split)
    config = replace(config, index_dir=Path(index_dir) if index_dir else _cache_dir(folder, config))
    embedder = embedder or assemble.embedder(config)
    print(f"{ds.name}: {len(ds.documents)} documents, {len(ds.queries)} queries ({split}); "
          f"index {config.index_dir}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    report = build_index(config, embedder=embedder, documents=ds.documents)
    build_seconds = report.seconds if report.changed else float(
        read_manifest(config.index_dir).get("build_seconds", 0.0))
    rag = Rag(config, embedder=embedder, answerer=assemble.extractive_answerer(config))
    print(f"  index ready in {time.perf_counter() - t0:.0f}s (build {build_seconds:.0f}s)", file=sys.stderr)

    qids = list(ds.queries)
    if articles is not None:
        articles = set(articles)
        qids = [q for q in qids if any(article_of(d) in articles for d in ds.qrels[q])]
        if not qids:
            raise RagError(f"no query of {ds.name} is about the articles asked for ({len(articles)} titles)")
    if limit and articles is not None:   # spread over the articles: every n-th question
        qids = qids[::max(1, len(qids) // limit)][:limit]
    qids = qids[:limit] if limit else qids
    embedder.encode(["warm up"], progress=False)
    qvecs, embed_ms, t0 = {}, [], time.perf_counter()
    for n, q in enumerate(qids, 1):
        t = time.perf_counter()
        qvecs[q] = embedder.encode([ds.queries[q]], progress=False)[0]
        embed_ms.append((time.perf_counter() - t) * 1000)
        _progress(n, len(qids), t0, "embedding")
    out = EvalReport(ds.name, split, len(qids), report.documents, report.chunks, round(build_seconds, 1),
                     str(config.index_dir), _pcts(embed_ms))
    for mode in modes:
        per_query, search_ms, answer_ms, t0 = [], [], [], time.perf_counter()
        for n, q in enumerate(qids, 1):
            question, qvec, rel = ds.queries[q], qvecs[q], ds.qrels[q]
            passages = rag.search(question, k=DEPTH * 2, mode=mode, qvec=qvec, depth=DEPTH * 2)
            ranked = metrics.documents_from_passages((p.doc_id, p.score) for p in passages)[:DEPTH]
            row = {"ndcg@10": metrics.ndcg_at_k(ranked, rel, 10), "recall@10": metrics.recall_at_k(ranked, rel, 10),
                   "recall@100": metrics.recall_at_k(ranked, rel, 100), "mrr@10": metrics.mrr_at_k(ranked, rel, 10),
                   "hit@1": metrics.hit_at_k(ranked, rel, 1), "hit@5": metrics.hit_at_k(ranked, rel, 5)}
            t = time.perf_counter()
            top = rag.search(question, mode=mode, qvec=qvec)
            t2 = time.perf_counter()
            answer = rag.answer(question, top, qvec)
            t3 = time.perf_counter()
            search_ms.append((t2 - t) * 1000)
            answer_ms.append((t3 - t) * 1000)
            if q in ds.answers:
                row["answer_contains"] = float(metrics.contains_answer(answer.text, ds.answers[q]))
                row["answer_words"] = float(len(answer.text.split())) if answer.found else 0.0
                row["answered"] = float(answer.found)
                row["short_em"], row["short_f1"] = metrics.squad_em_f1(answer.short, ds.answers[q])
                row["short_given"] = float(answer.short is not None)
                row["short_right"] = float(answer.short is not None and row["short_f1"] > 0)
            per_query.append(row)
            _progress(n, len(qids), t0, mode)
        lat = {f"retrieval_{p}": v for p, v in _pcts([e + t for e, t in zip(embed_ms, search_ms)]).items()}
        lat.update({f"retrieval+answer_{p}": v for p, v in _pcts([e + t for e, t in zip(embed_ms, answer_ms)]).items()})
        summary = metrics.summarize(per_query)
        if summary.get("answered"):   # mean length of the answers given, not counting refusals
            summary["answer_words"] /= summary["answered"]
        if "short_right" in summary:   # precision of the short answers shown: F1 > 0
            summary["short_right"] = summary["short_right"] / summary["short_given"] if summary["short_given"] else 0.0
            # EM / F1 of the short answers shown (short_em, short_f1 count a hidden one as 0)
            for k in ("short_em", "short_f1"):
                summary[f"{k}_shown"] = summary[k] / summary["short_given"] if summary["short_given"] else 0.0
        out.modes.append(ModeResult(mode, {k: round(v, 4) for k, v in summary.items()},
                                    {k: round(v, 2) for k, v in lat.items()}))
    if abstention and config.mode in modes:
        out.abstention = _abstention(folder, ds, qids, qvecs, rag, config, embedder, articles, limit)
    if conversations:
        out.followup = convs.evaluate(rag, convs.load(conversations, ds.name, ds.queries, ds.answers))
    if config.llm_url is not None and ds.answers:
        out.generated = generated(Rag(config, embedder=embedder), ds, qids[:llm_limit], qvecs)
    return out


def generated(rag: Rag, ds, qids, qvecs) -> dict:
    """Generated answers (config.llm_url) beside extractive ones on the same questions: answer
    containment, supported share, fallbacks, seconds per answer."""
    rows, extractive = [], assemble.extractive_answerer(rag.config)
    t0 = time.perf_counter()
    for n, q in enumerate(qids, 1):
        question, qvec = ds.queries[q], qvecs[q]
        passages = rag.search(question, qvec=qvec)
        t = time.perf_counter()
        answer = rag.answer(question, passages, qvec)
        seconds = time.perf_counter() - t
        base = extractive.answer(question, qvec, passages, rag.retriever)
        rows.append({"generated_contains": float(metrics.contains_answer(answer.text, ds.answers[q])),
                     "extractive_contains": float(metrics.contains_answer(base.text, ds.answers[q])),
                     "generated": float(answer.generated), "found": float(answer.found),
                     "seconds": seconds, "supported_share": answer.supported_share})
        if n % 10 == 0 or n == len(qids):
            print(f"  generated: {n}/{len(qids)} questions, {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
    shares = [r["supported_share"] for r in rows if r["supported_share"] is not None]
    gen = [r for r in rows if r["generated"]]
    return {"questions": len(rows), "generated": len(gen),
            "fallbacks": len(rows) - len(gen),
            "generated_contains": round(sum(r["generated_contains"] for r in rows) / max(1, len(rows)), 4),
            "extractive_contains": round(sum(r["extractive_contains"] for r in rows) / max(1, len(rows)), 4),
            "not_found": round(sum(1 - r["found"] for r in gen) / max(1, len(gen)), 4),
            "supported_share": round(sum(shares) / len(shares), 4) if shares else None,
            "seconds_p50": round(metrics.percentile([r["seconds"] for r in rows], 50), 2)}


def article_of(doc_id: str) -> str:
    """The SQuAD article of a paragraph id ("Super_Bowl_50_3" -> "Super_Bowl_50")."""
    return doc_id.rsplit("_", 1)[0]


def split_articles(name: str, split_file=None) -> set[str]:
    """The article titles of a split ("train" or "validation") the shipped readers were trained with
    (the passage reader's manifest's copy of bench/reader_split.json), or of split_file."""
    from rag.answer.passage_reader import MANIFEST_FILE, WEIGHTS_DIR

    path = Path(split_file) if split_file else WEIGHTS_DIR / MANIFEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return set(data["split_articles"][name] if "split_articles" in data else data[name])
    except (OSError, ValueError, KeyError, TypeError):
        raise RagError(f"cannot read split {name!r} from {path}: give a readable split file") from None


def _abstention(folder: Path, ds, qids, qvecs, rag, config: Config, embedder, articles=None, limit=None) -> dict:
    out = {}
    titles = [d.title for d in ds.documents]
    if ds.answers and len(set(titles)) < len(titles):   # documents grouped in articles (SQuAD)
        print("  abstention: article removed, one-document corpora", file=sys.stderr, flush=True)
        out["removed"] = abst.summary(*abst.removed_scores(rag, ds, qids, qvecs), config.min_score)
        out["single_doc"] = abst.summary(*abst.single_doc_scores(
            config, ds, qids, qvecs, config.index_dir.parent / "single", embedder,
            answerer=rag.answerer), config.min_score)
    rows = abst.load_questions(folder)
    if articles is not None:
        rows = [r for r in rows if article_of(r["paragraph-id"]) in articles]
        if limit:   # with --articles, --limit N also spreads 2N of the SQuAD 2.0 questions over them
            rows = rows[::max(1, len(rows) // (2 * limit))][:2 * limit]
    if rows:
        print("  abstention: unanswerable questions", file=sys.stderr, flush=True)
        texts = {str(r["_id"]): r["text"] for r in _read_jsonl(folder / "queries.jsonl")}
        missing = [r["query-id"] for r in rows if r["query-id"] not in qvecs]
        qvecs = dict(qvecs, **dict(zip(missing, embedder.encode([texts[q] for q in missing], progress=False))))
        out["unanswerable"] = abst.summary(*abst.unanswerable_scores(rag, rows, qvecs, texts), config.min_score)
    return out


def _read_jsonl(path: Path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _pcts(values_ms: list[float]) -> dict[str, float]:
    return {"p50": round(metrics.percentile(values_ms, 50), 2), "p95": round(metrics.percentile(values_ms, 95), 2)}


def format_report(r: EvalReport) -> str:
    keys = list(r.modes[0].metrics) if r.modes else []
    lines = [f"{r.dataset} ({r.split}): {r.queries} queries, {r.documents} documents, {r.chunks} chunks; "
             f"index build {r.build_seconds:.0f}s; question embedding p50 {r.embed_ms['p50']:.1f} ms, "
             f"p95 {r.embed_ms['p95']:.1f} ms",
             "| mode | " + " | ".join(keys) + " | retrieval p50/p95 ms | retrieval+answer p50/p95 ms |",
             "|---" * (len(keys) + 3) + "|"]
    for m in r.modes:
        lat = m.latency_ms
        lines.append(f"| {m.mode} | " + " | ".join(f"{m.metrics[k]:.3f}" for k in keys)
                     + f" | {lat['retrieval_p50']:.1f} / {lat['retrieval_p95']:.1f}"
                     + f" | {lat['retrieval+answer_p50']:.1f} / {lat['retrieval+answer_p95']:.1f} |")
    for name, a in r.abstention.items():
        lines.append(f"not-found rule, {name}: answered {a['answered']:.3f} of {a['answerable']} answerable, "
                     f"refused {a['refused']:.3f} of {a['unanswerable']} unanswerable, balanced accuracy "
                     f"{a['balanced_accuracy']:.3f}, AUROC {a['auroc']:.3f}")
    if r.followup:
        f = r.followup
        lines.append(f"follow-ups ({f['conversations']} conversations): answer containment {f['followup']:.3f}, "
                     f"same questions with context written out {f['context_written_out']:.3f}, "
                     f"resolved or left alone rightly {f['resolution_right']:.3f}")
    if r.generated:
        g = r.generated
        share = "n/a" if g["supported_share"] is None else f"{g['supported_share']:.3f}"
        lines.append(f"generated answers ({g['questions']} questions, {g['generated']} generated, {g['fallbacks']} "
                     f"fell back): answer containment {g['generated_contains']:.3f} (extractive on the same "
                     f"questions {g['extractive_contains']:.3f}), supported sentences {share}, "
                     f"not-found {g['not_found']:.3f}, {g['seconds_p50']:.1f} s per answer (p50)")
    return "\n".join(lines)
