"""The learned reader: a logistic-regression span ranker over the extractive answerer's top sentences.

Candidates are word spans of 1-MAX_SPAN_WORDS words in the TOP_SENTENCES sentences the
extractive answerer ranks first (rag.answer.extractive's select score), that neither start nor end with
a function word or punctuation and are not made only of the question's words. Each span has a
row of FEATURES: its shape (capitalised, digits, a year, a percent, a unit after a number, all
lowercase, length), the question's answer type (rag.text.evidence.answer_type) and wh-word crossed
with the shape, its distance to the question's words and how many lie within 5 words on each
side, the word before it (called/named, is/was, of, in/at/on, by, as), the sentence's rank and
evidence score, its place in the sentence, the rarity of its words, its overlap with the
question, and whether it is, or overlaps, the rules' short answer (rag.answer.short_answer.find and
phrase). A linear model (weights over standardised features) scores each span; a softmax over
the question's candidates gives each span's probability. The model ships as plain arrays
(rag/answer/models/span_reader/weights.npz, loaded with allow_pickle=False) beside a manifest naming the
data, the split, the command, the seed and the figures; bench/train_reader_a.py makes both.
Missing or damaged weights raise SpanReaderError, one line naming that command. numpy only;
deterministic.
"""
from __future__ import annotations

import json
import math
import re
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import ModelError
from rag.text.evidence import answer_type, rarity, terms

WEIGHTS_DIR = Path(__file__).resolve().parent / "models" / "span_reader"
WEIGHTS_FILE = "weights.npz"
MANIFEST_FILE = "manifest.json"
TRAIN_COMMAND = "python bench/train_reader_a.py ../shared/data/squad-dev ../shared/data/squad2-dev"
MAX_BYTES = 2 * 1024 * 1024
TOP_SENTENCES = 3
MAX_SPAN_WORDS = 6
MAX_SENTENCE_WORDS = 120     # words of a sentence read (a longer one is cut)
STOP = frozenset(["the", "a", "an", "of", "in", "on", "at", "to", "for", "and", "or", "but", "by", "with", "from", "as", "is", "was", "were", "be", "been", "are", "that", "which", "this", "these", "those", "it", "its", "their", "his", "her", "he", "she", "they", "than", "then", "there", "so", "such", "into", "onto", "over", "under", "about", "after", "before", "during", "while", "when", "where", "who", "whom", "whose", "what", "how", "why", "also", "not", "no"])
WH = ("how many", "how much", "how long", "how", "what", "which", "who", "when", "where", "why")
TYPES = ("DATE", "NUMBER", "PERSON", "PLACE", "ENTITY", "AUTHOR", None)
BEFORE = (("called", "named", "known", "titled"), ("is", "was", "are", "were", "be", "been"), ("of",),
          ("in", "at", "on", "during"), ("by",), ("as",), ("the", "a", "an"))
UNITS = re.compile(r"^(?:%|percent|per|km|m|kg|g|mm|cm|miles?|feet|foot|ft|meters?|metres?|kilometers?|"
                   r"kilometres?|years?|months?|weeks?|days?|hours?|minutes?|seconds?|people|tons?|tonnes?|"
                   r"million|billion|thousand|hundred|dollars?|pounds?|acres?|degrees?|times|members|students)$",
                   re.IGNORECASE)
_TOKEN = re.compile(r"\w+(?:[.,'’]\d+|['’][a-z]+)*%?|[^\w\s]")
_YEAR = re.compile(r"1\d{3}|20\d{2}")
SHAPES = 4   # capitalised, digits, year, lowercase
NAMES = ("weights", "bias", "mean", "scale", "gate_weights", "gate_bias", "gate_mean", "gate_scale",
         "nil_weights", "nil_bias", "nil_mean", "nil_scale")


def feature_names() -> list[str]:
    names = [f"len{n}" for n in range(1, MAX_SPAN_WORDS + 1)]
    names += ["cap", "allcap", "digit", "year", "percent", "unit", "lower", "rare_mean", "rare_max",
              "log_dist", "near_left", "near_right", "q_before", "q_after", "q_overlap", "rel_pos", "at_start",
              "comma_before", "comma_after", "end_after", "paren", "rank0", "rank1", "rank2", "evidence",
              "select_gap", "rule_eq", "rule_overlap", "rule_inside", "phrase_eq", "phrase_overlap", "phrase_inside"]
    names += ["before_" + b[0] for b in BEFORE]
    names += [f"wh_{w}_{s}" for w in WH + ("other",) for s in ("cap", "digit", "year", "lower")]
    names += [f"type_{t}_{s}" for t in TYPES for s in ("cap", "digit", "year", "lower")]
    return names


N_FEATURES = len(feature_names())


class SpanReaderError(ModelError):
    """The span reader's weights are missing, damaged or do not fit this code."""


@dataclass(frozen=True)
class Span:
    """A candidate span: the index of its sentence among those given, its offsets there, its text."""
    sentence: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class SentenceIn:
    """A sentence given to the reader: its text, evidence and selection score, and the rules' spans
    (rag.answer.short_answer.Span or None) in it."""
    text: str
    evidence: float
    select: float
    rule: object = None
    phrase: object = None


def _wh(question: str) -> int:
    q = question.lower()
    hits = [(m.start(), k) for k, w in enumerate(WH) for m in [re.search(r"\b" + w + r"\b", q)] if m]
    return min(hits)[1] if hits else len(WH)


def _rel(a: int, b: int, span) -> tuple[float, float, float]:
    """(equal, overlap, inside) of the character span a..b against a rules' span."""
    if span is None:
        return 0.0, 0.0, 0.0
    eq = float(a == span.start and b == span.end)
    return eq, float(a < span.end and span.start < b), float(span.start <= a and b <= span.end)


def spans(question: str, sentences: Sequence[SentenceIn]) -> tuple[list[Span], np.ndarray]:
    """The candidate spans of the sentences and their feature rows (float32, N_FEATURES columns)."""
    q_terms = terms(question)
    kind = answer_type(question)
    wh, ti = _wh(question), TYPES.index(kind) if kind in TYPES else len(TYPES) - 1
    top_select = max((s.select for s in sentences), default=0.0)
    out, rows = [], []
    n_fixed = N_FEATURES - (len(WH) + 1 + len(TYPES)) * SHAPES
    for si, sent in enumerate(sentences[:TOP_SENTENCES]):
        toks = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(sent.text)][:MAX_SENTENCE_WORDS]
        n = len(toks)
        if not n:
            continue
        words = [w for _, _, w in toks]
        lower = [w.lower() for w in words]
        is_word = [w[0].isalnum() for w in words]
        isq = [bool(terms(w) & q_terms) for w in words]
        qpos = [k for k, q in enumerate(isq) if q]
        rare = [rarity(w) if w[0].isalpha() else 3.0 for w in lower]
        sent_feats = [float(si == 0), float(si == 1), float(si == 2), float(sent.evidence),
                      float(sent.select - top_select)]
        for i in range(n):
            if not is_word[i] or lower[i] in STOP:
                continue
            for j in range(i, min(i + MAX_SPAN_WORDS, n)):
                if not is_word[j]:
                    if words[j] not in {"-", "'", "’", ".", ","} or j == i:
                        break
                    continue
                if lower[j] in STOP or all(isq[i:j + 1]):
                    continue
                span_words = words[i:j + 1]
                text = sent.text[toks[i][0]:toks[j][1]]
                cap = float(words[i][0].isupper())
                digit = float(any(c.isdigit() for c in text))
                year = float(any(_YEAR.fullmatch(w) for w in span_words))
                low = float(all(w.islower() for w in span_words if w[0].isalpha()) and not digit)
                unit = float(any(span_words[k][0].isdigit() and UNITS.match(span_words[k + 1])
                                 for k in range(len(span_words) - 1)))
                dist = min((min(abs(k - i), abs(k - j)) for k in qpos), default=30)
                wr = [rare[k] for k in range(i, j + 1) if is_word[k]]
                a, b = toks[i][0], toks[j][1]
                f = [0.0] * MAX_SPAN_WORDS
                f[j - i] = 1.0
                f += [cap, float(all(w[0].isupper() for w in span_words if w[0].isalpha())), digit, year,
                      float("%" in text or "percent" in lower[j + 1:j + 2]), unit, low,
                      sum(wr) / len(wr) / 6.0, max(wr) / 6.0, math.log1p(dist),
                      float(sum(isq[max(0, i - 5):i])), float(sum(isq[j + 1:j + 6])),
                      float(i > 0 and isq[i - 1]), float(j + 1 < n and isq[j + 1]),
                      sum(isq[i:j + 1]) / (j - i + 1), i / n, float(i == 0),
                      float(i > 0 and words[i - 1] == ","), float(j + 1 < n and words[j + 1] == ","),
                      float(j + 1 < n and words[j + 1] in {".", ";", ":"}),
                      float(i > 0 and words[i - 1] == "(")]
                f += sent_feats
                f += [*_rel(a, b, sent.rule), *_rel(a, b, sent.phrase)]
                prev = lower[i - 1] if i > 0 else ""
                f += [float(prev in group) for group in BEFORE]
                shape = (cap, digit, year, low)
                cross = [0.0] * ((len(WH) + 1 + len(TYPES)) * SHAPES)
                cross[wh * SHAPES:(wh + 1) * SHAPES] = shape
                k0 = (len(WH) + 1 + ti) * SHAPES
                cross[k0:k0 + SHAPES] = shape
                rows.append(f + cross)
                out.append(Span(si, a, b, text))
    feats = np.array(rows, dtype=np.float32).reshape(-1, N_FEATURES)
    assert feats.shape[1] == n_fixed + (len(WH) + 1 + len(TYPES)) * SHAPES
    return out, feats


NIL_NAMES = ["evidence", "evidence_gap", "select", "cosine", "span_prob", "span_logit", "missing_sentence",
             "missing_passage", "missing_max_rarity", "numbers_in_passage", "names_in_passage", "q_negated",
             "s_negated", "q_words"]
_NEG = re.compile(r"\b(?:not|never|no|none|nothing|nobody|neither|nor|without|cannot)\b|n't\b", re.IGNORECASE)


def nil_features(question: str, sentence: str, passage: str, title: str, evidence: Sequence[float],
                 select: float, cosine: float, span_prob: float, span_logit: float) -> np.ndarray:
    """The "no answer" model's row for a question: the extractive evidence (best, gap to the second),
    the best sentence's select score and cosine, the span reader's best span (probability, logit),
    the rarity-weighted share of the question's content words missing from the best sentence (with
    its title) and from its passage, the rarest missing one, whether the question's numbers and
    capitalised names appear in the passage, negation in the question and in the sentence."""
    from rag.text.evidence import question_terms

    q = question_terms(question)
    total = sum(q.values()) or 1.0
    in_sent, in_pass = terms(sentence) | terms(title), terms(passage) | terms(title)
    miss_s = sum(w for t, w in q.items() if t not in in_sent) / total
    miss_p = sum(w for t, w in q.items() if t not in in_pass) / total
    miss_max = max((w for t, w in q.items() if t not in in_pass), default=0.0) / 6.0
    nums = re.findall(r"\d[\d,.]*", question)
    low = passage.lower() + " " + title.lower()
    nums_in = sum(n.strip(".,") in low for n in nums) / len(nums) if nums else 1.0
    names = [w for w in re.findall(r"(?<!^)(?<![.?!] )\b[A-Z][\w'-]+", question)]
    names_in = sum(w.lower() in low for w in names) / len(names) if names else 1.0
    ev = sorted(evidence, reverse=True) or [0.0]
    gap = ev[0] - ev[1] if len(ev) > 1 else ev[0]
    return np.array([ev[0], gap, select, cosine, span_prob, span_logit, miss_s, miss_p, miss_max, nums_in,
                     names_in, float(bool(_NEG.search(question))), float(bool(_NEG.search(sentence))),
                     min(len(q), 20) / 10.0], np.float32)


GATE_FROM_SPAN = ("len1", "len2", "len3", "cap", "digit", "year", "lower", "rank0", "evidence", "rule_eq",
                  "rule_overlap", "phrase_eq", "phrase_overlap", "q_overlap")
GATE_NAMES = (["prob", "log_prob", "logit", "gap", "log_candidates", "missing_sentence", "missing_max_rarity"]
              + [f"type_{t}" for t in TYPES] + list(GATE_FROM_SPAN))


def gate_features(question: str, sentences: Sequence[str], cands: Sequence[Span], feats: np.ndarray,
                  z: np.ndarray) -> np.ndarray:
    """The confidence gate's row for the best span: its probability and logit, the logit gap to the
    best span that does not overlap it, the number of candidates, the rarity-weighted share of the
    question's content words missing from its sentence and the rarest missing one (a swapped verb
    or name), the question's answer type, and
    the best span's shape, sentence and agreement with the rules (columns of its span row)."""
    p = softmax(z)
    k = int(np.argmax(p))
    other = [z[i] for i in range(len(cands)) if cands[i].sentence != cands[k].sentence
             or cands[i].end <= cands[k].start or cands[k].end <= cands[i].start]
    gap = float(z[k] - max(other)) if other else 10.0
    kind = answer_type(question)
    names = feature_names()
    from rag.text.evidence import question_terms

    q = question_terms(question)
    have = terms(sentences[cands[k].sentence])
    missing = [w for t, w in q.items() if t not in have]
    row = [float(p[k]), math.log(max(float(p[k]), 1e-9)), float(z[k]), min(gap, 10.0), math.log(len(cands)),
           sum(missing) / (sum(q.values()) or 1.0), max(missing, default=0.0) / 6.0]
    row += [float(kind == t) for t in TYPES]
    row += [float(feats[k, names.index(n)]) for n in GATE_FROM_SPAN]
    return np.array(row, np.float32)


def softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max()) if len(z) else z
    return e / e.sum() if len(z) else e


class SpanReader:
    """The trained span ranker and "no answer" model: ``best(question, sentences)`` -> (Span,
    probability, logit) or None; ``has_answer(nil_features row)`` -> probability."""

    def __init__(self, arrays: dict, manifest: dict):
        self.weights = arrays["weights"].astype(np.float64)
        self.bias = float(arrays["bias"][0])
        self.mean = arrays["mean"].astype(np.float64)
        self.scale = arrays["scale"].astype(np.float64)
        self.nil = {k: arrays[k].astype(np.float64) for k in ("nil_weights", "nil_bias", "nil_mean", "nil_scale")
                    if k in arrays}
        self.gate = {k: arrays[k].astype(np.float64) for k in ("gate_weights", "gate_bias", "gate_mean",
                                                                "gate_scale") if k in arrays}
        self.manifest = manifest
        self.min_prob = float(manifest["min_prob"])
        self.nil_weight = float(manifest.get("nil_weight", 0.0)) if self.nil else 0.0

    def logits(self, feats: np.ndarray) -> np.ndarray:
        return ((feats - self.mean) / self.scale) @ self.weights + self.bias

    def best(self, question: str, sentences: Sequence[SentenceIn]):
        """(best span, the gate's probability that it is right, its logit), or None without candidates."""
        cands, feats = spans(question, sentences)
        if not cands:
            return None
        z = self.logits(feats)
        k = int(np.argmax(z))   # the first of equals: deterministic
        row = gate_features(question, [s.text for s in sentences], cands, feats, z)
        return cands[k], self.right_prob(row), float(z[k])

    def right_prob(self, row: np.ndarray) -> float:
        """The confidence gate's probability that the best span is right (F1 > 0)."""
        g = self.gate
        return _sigmoid(float(((row - g["gate_mean"]) / g["gate_scale"]) @ g["gate_weights"] + g["gate_bias"][0]))

    def has_answer(self, row: np.ndarray) -> float:
        """The "no answer" model's probability that the question is answered (0.5 without one)."""
        if not self.nil:
            return 0.5
        return _sigmoid(float(((row - self.nil["nil_mean"]) / self.nil["nil_scale"]) @ self.nil["nil_weights"]
                              + self.nil["nil_bias"][0]))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def _damaged(folder: Path, why: str) -> SpanReaderError:
    return SpanReaderError(f"the span reader's weights in {folder} are {why}: rebuild them with `{TRAIN_COMMAND}`")


def load(folder: Path | str = WEIGHTS_DIR) -> SpanReader:
    """The span reader in folder, its arrays checked against the manifest and this code's features."""
    folder = Path(folder)
    wpath, mpath = folder / WEIGHTS_FILE, folder / MANIFEST_FILE
    if not wpath.is_file() or not mpath.is_file():
        raise SpanReaderError(f"the span reader's weights are missing ({wpath}): train them with `{TRAIN_COMMAND}`")
    if wpath.stat().st_size > MAX_BYTES or mpath.stat().st_size > MAX_BYTES:
        raise _damaged(folder, f"larger than {MAX_BYTES} bytes")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
        names, min_prob = manifest["features"], float(manifest["min_prob"])
        float(manifest["nil_weight"])
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise _damaged(folder, "damaged (manifest unreadable)") from None
    if (names != feature_names() or manifest.get("nil_features") != NIL_NAMES
            or manifest.get("gate_features") != GATE_NAMES or not 0.0 <= min_prob <= 1.0):
        raise _damaged(folder, "for other features than this code's (manifest)")
    try:
        with np.load(wpath, allow_pickle=False) as z:
            arrays = {k: np.array(z[k]) for k in NAMES}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):   # any unreadable file is damaged
        raise _damaged(folder, f"damaged (not a readable .npz of {', '.join(NAMES)})") from None
    n = len(NIL_NAMES)
    shapes = {"weights": (N_FEATURES,), "bias": (1,), "mean": (N_FEATURES,), "scale": (N_FEATURES,),
              "nil_weights": (n,), "nil_bias": (1,), "nil_mean": (n,), "nil_scale": (n,),
              "gate_weights": (len(GATE_NAMES),), "gate_bias": (1,), "gate_mean": (len(GATE_NAMES),),
              "gate_scale": (len(GATE_NAMES),)}
    for k, shape in shapes.items():
        a = arrays[k]
        if a.shape != shape or a.dtype.kind != "f" or not np.all(np.isfinite(a)):
            raise _damaged(folder, f"damaged ({k}: shape {a.shape}, expected {shape})")
    if np.any(arrays["scale"] <= 0) or np.any(arrays["nil_scale"] <= 0) or np.any(arrays["gate_scale"] <= 0):
        raise _damaged(folder, "damaged (scale not positive)")
    return SpanReader(arrays, manifest)


_LOCK = threading.Lock()
_LOADED: dict[str, SpanReader] = {}


def get(folder: Path | str = WEIGHTS_DIR) -> SpanReader:
    """The span reader in folder, loaded once per process."""
    key = str(Path(folder).resolve())
    with _LOCK:
        if key not in _LOADED:
            _LOADED[key] = load(folder)
        return _LOADED[key]
