"""A labelled set of answer sentences, generated from SQuAD at run time, to measure rag.llm.claims.

``build(folder, n)`` reads a SQuAD folder in BEIR layout (corpus, queries,
answers, qrels; e.g. ../shared/data/squad-dev) and, with a fixed seed, picks
questions whose gold answer lies in one sentence of its paragraph. Each gives
two answer sentences, checked against that paragraph and the next two of the
same article (a retrieved set with look-alike facts):

- a *faithful* one: the sentence as written, the sentence without its leading
  clause, or the question answered in a sentence ("The answer to ... is X.");
- a *planted* unsupported one, from the same faithful sentence: a number or year
  changed, a month changed, a name or place swapped for one from another
  article, or an added fact (a clause of a sentence from another article).

No text of the data is stored: only the code and the seed. ``measure`` tunes the
threshold on half A (split by article) and reports both halves: the share of
planted sentences flagged and of faithful ones left unflagged. Does not test
paraphrases a model would write; it is a controlled probe of the checker.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.evaluation.datasets import _jsonl
from rag.llm import claims as cl
from rag.text.chunk import split_sentences
from rag.text.evidence import rarity

SEED = 20260128
NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s+(?:of\s+|de\s+|the\s+)?[A-Z][a-z]+)*")
YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
NUMBER = re.compile(r"\b\d[\d,]*\b")


@dataclass(frozen=True)
class Item:
    qid: str
    article: str
    sentence: str
    passages: tuple[str, ...]
    planted: bool
    kind: str
    question: str = ""        # verbatim | trimmed | qa | number | year | month | name | added


def _load(folder: Path):
    paras = {str(r["_id"]): (r.get("title") or "", r.get("text") or "") for r in _jsonl(folder / "corpus.jsonl")}
    queries = {str(r["_id"]): r["text"] for r in _jsonl(folder / "queries.jsonl")}
    answers = {str(r["query-id"]): list(r["answers"]) for r in _jsonl(folder / "answers.jsonl")}
    qrels = {}
    for path in sorted((folder / "qrels").glob("*.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            parts = line.split("\t")
            if len(parts) >= 3:
                qrels[parts[0]] = parts[1]
    return paras, queries, answers, qrels


def _neighbours(pid: str, paras: dict) -> list[str]:
    stem, _, n = pid.rpartition("_")
    out = [paras[pid][1]]
    for d in (1, 2, -1, -2):
        other = f"{stem}_{int(n) + d}" if n.isdigit() else None
        if other in paras and len(out) < 3:
            out.append(paras[other][1])
    return out


def _faithful(rng, sentence: str, question: str, answer: str) -> tuple[str, str]:
    options = [("verbatim", sentence)]
    head, comma, rest = sentence.partition(", ")
    if comma and answer in rest and len(head.split()) <= 8 and len(rest.split()) >= 6:
        options.append(("trimmed", rest[0].upper() + rest[1:]))
    q = question.strip().rstrip("?").strip()
    if q and len(answer.split()) <= 6:
        options.append(("qa", f"The answer to the question \"{q}\" is {answer.rstrip('.')}."))
    return rng.choice(options)


def _plant(rng, base: str, passages, names: list[str], others: list[str]) -> tuple[str, str] | None:
    text = " ".join(passages)
    edits = []
    years = [m for m in YEAR.finditer(base)]
    nums = [m for m in NUMBER.finditer(base) if not YEAR.fullmatch(m.group())]
    months = [m for m in re.finditer(r"\b(?:" + "|".join(w.title() for w in cl.MONTHS) + r")\b", base)]
    found_names = [m for m in NAME.finditer(base) if m.group().lower() not in cl.COMMON_CAPS
                   and m.group().lower() not in cl.MONTHS and (" " in m.group() or rarity(m.group().lower()) >= 3)]
    if years:
        m = rng.choice(years)
        edits.append(("year", m, str(int(m.group()) + rng.choice([-11, -3, -2, -1, 1, 2, 4, 7]))))
    if nums:
        m = rng.choice(nums)
        v = int(m.group().replace(",", ""))
        new = v + rng.choice([1, 2, 3, 5]) if v < 20 else round(v * rng.choice([0.5, 1.5, 2, 3]))
        edits.append(("number", m, f"{new:,}" if "," in m.group() else str(new)))
    if months:
        m = rng.choice(months)
        edits.append(("month", m, rng.choice([w.title() for w in cl.MONTHS if w != m.group().lower()])))
    if found_names:
        m = rng.choice(found_names)
        pool = [n for n in names if n.lower() not in text.lower()]
        if pool:
            edits.append(("name", m, rng.choice(pool)))
    other = rng.choice(others)
    clause = other.rstrip(".")
    if len(clause.split()) > 14:
        clause = " ".join(clause.split()[:14])
    first = clause.split()[0]
    if rarity(first.lower()) < 3 and first != "I":   # a common word capitalised to start the sentence
        clause = clause[0].lower() + clause[1:]
    added = base.rstrip(".") + ", and " + clause + "."
    kind, m, new = rng.choice(edits) if edits and rng.random() < 0.8 else ("added", None, None)
    if kind == "added":
        return "added", added
    return kind, base[:m.start()] + new + base[m.end():]


def build(folder, n: int = 400, seed: int = SEED) -> list[Item]:
    """2 * (n // 2) items: a faithful and a planted sentence for each of n // 2 questions."""
    paras, queries, answers, qrels = _load(Path(folder))
    rng = random.Random(seed)
    qids = sorted(q for q in queries if q in answers and qrels.get(q) in paras)
    rng.shuffle(qids)
    names = sorted({a for q in qids[:3000] for a in answers[q][:1]
                    if re.fullmatch(r"[A-Z][a-z]+(?: [A-Z][a-z]+){0,2}", a)})
    items: list[Item] = []
    for qid in qids:
        if len(items) >= 2 * (n // 2):
            break
        pid = qrels[qid]
        title, body = paras[pid]
        answer = answers[qid][0]
        sents = [body[a:b] for a, b in split_sentences(body)]
        hits = [s for s in sents if answer in s and 8 <= len(s.split()) <= 45]
        if not hits:
            continue
        passages = tuple(_neighbours(pid, paras))
        other_body = paras[rng.choice(list(paras))][1]
        others = [other_body[a:b] for a, b in split_sentences(other_body)
                  if 6 <= len(other_body[a:b].split()) and title not in other_body]
        if not others:
            continue
        kind, sentence = _faithful(rng, hits[0], queries[qid], answer)
        planted = _plant(rng, sentence, passages, names, others)
        if planted is None or planted[1] == sentence:
            continue
        items.append(Item(qid, title, sentence, passages, False, kind, queries[qid]))
        items.append(Item(qid, title, planted[1], passages, True, planted[0], queries[qid]))
    return items


def halves(items: list[Item]) -> tuple[list[Item], list[Item]]:
    """Split by article (seeded), so no article is in both halves."""
    arts = sorted({it.article for it in items})
    random.Random(SEED).shuffle(arts)
    a = set(arts[::2])
    return [it for it in items if it.article in a], [it for it in items if it.article not in a]


def item_scores(items: list[Item], embed, weights=None) -> np.ndarray:
    """The checker's score of each item's sentence against its passages; -1 when it has a foreign key
    (a number, name or date no passage or question states: unsupported whatever the score)."""
    out = []
    for it in items:
        parts = [s for s, _ in cl.split_claims(it.sentence)]
        data = [cl.data_only(p) for p in it.passages]
        if any(cl.foreign_keys(s, data, it.question) for s in parts):
            out.append(-1.0)
            continue
        score, _, _ = cl.claim_scores(parts, it.passages, embed, weights)
        out.append(float(score.min()) if len(parts) else 1.0)
    return np.array(out)


def rates(scores: np.ndarray, planted: np.ndarray, threshold: float) -> dict:
    flagged = scores < threshold
    return {"planted_flagged": float(flagged[planted].mean()) if planted.any() else 0.0,
            "faithful_unflagged": float((~flagged[~planted]).mean()) if (~planted).any() else 0.0,
            "planted": int(planted.sum()), "faithful": int((~planted).sum())}


def tune(scores: np.ndarray, planted: np.ndarray, min_faithful: float = 0.92) -> float:
    """The threshold that flags the most planted sentences while leaving at least min_faithful
    of the faithful ones unflagged (on the tuning half)."""
    best_t, best = cl.THRESHOLD, -1.0
    for t in np.round(np.arange(0.3, 1.0, 0.005), 3):
        r = rates(scores, planted, float(t))
        if r["faithful_unflagged"] >= min_faithful and r["planted_flagged"] > best:
            best_t, best = float(t), r["planted_flagged"]
    return best_t


def measure(folder, embed, n: int = 400) -> dict:
    """Checker figures on the generated set: the module's threshold and the one tuned on half A,
    each reported on both halves (half B is the held-out figure)."""
    items = build(folder, n)
    a, b = halves(items)
    out = {"items": len(items), "threshold": cl.THRESHOLD, "weights": [cl.W_SIM, cl.W_TERMS, cl.W_KEYS]}
    sa, sb = item_scores(a, embed), item_scores(b, embed)
    pa, pb = np.array([i.planted for i in a]), np.array([i.planted for i in b])
    out["tuned_on_a"] = tune(sa, pa)
    out["half_a"] = rates(sa, pa, cl.THRESHOLD)
    out["half_b"] = rates(sb, pb, cl.THRESHOLD)
    kinds = sorted({i.kind for i in b})
    out["half_b_by_kind"] = {k: float(np.mean([(s < cl.THRESHOLD) == i.planted for s, i in zip(sb, b)
                                               if i.kind == k])) for k in kinds}
    return out


def format_measure(r: dict) -> str:
    a, b = r["half_a"], r["half_b"]
    lines = [f"claim checker on {r['items']} generated answer sentences (rag.evaluation.claimset; threshold {r['threshold']}, "
             f"weights sim/terms/keys {r['weights']}; threshold tuned on half A now: {r['tuned_on_a']})",
             f"  half A (tuning): planted flagged {a['planted_flagged']:.3f} of {a['planted']}, "
             f"faithful unflagged {a['faithful_unflagged']:.3f} of {a['faithful']}",
             f"  half B (held out): planted flagged {b['planted_flagged']:.3f} of {b['planted']}, "
             f"faithful unflagged {b['faithful_unflagged']:.3f} of {b['faithful']}",
             "  half B right by kind: " + ", ".join(f"{k} {v:.3f}" for k, v in r["half_b_by_kind"].items())]
    return "\n".join(lines)
