"""The passage reader's cost beside the question embedding, torch against onnx, side by side in one process.

    PYTHONPATH=. python bench/reader_speed.py [--rounds 5] [--corpus seeds]

Builds an index of the corpus folder (default seeds/) in a temporary folder, then for each of the questions
of bench/seed_questions.jsonl, interleaved, round after round:
  embed          the question's vector alone (Rag.embed: one model call, the index's embedding backend);
  reader torch / reader onnx
                 the passage reader on the 3 passages the answerer reads (the first 3 retrieved);
  query torch / query onnx
                 the whole Rag.query (embedding, retrieval, answer step) with each reader backend;
and, not defaults, measured for the record (each compared with the float32 onnx reader's spans):
  own length     each window run alone at its own length (no padding to the longest window);
  first window   only the first window of each passage (the rest of a long passage unread);
  int8           the reader's ONNX file quantized to int8 (dynamic, per channel, MatMuls only; as the embedder's).
Prints p50 of each in ms, the ratios to the embedding p50, the windows read, and how many readings / answers
differ from the float32 onnx reader's (same span text and offsets; largest probability difference).
The machine is shared: compare the ratios of one run, not absolute times.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag import Rag  # noqa: E402
from rag.answer import passage_reader as P  # noqa: E402
from rag.answer.extractive import READ_PASSAGES, ExtractiveAnswerer  # noqa: E402
from rag.build.builder import build_index  # noqa: E402
from rag.config import Config  # noqa: E402
from rag.embed.embedder import Embedder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def own_length(reader):
    """A copy of the onnx reader that runs each window alone, unpadded."""
    r = copy.copy(reader)

    def logits(question, texts):
        with r._lock:
            enc, context = r.encode(question, texts)
            start = np.full(enc["input_ids"].shape, -1e4, np.float32)
            end = start.copy()
            for w in range(len(start)):
                n = int(enc["attention_mask"][w].sum())
                feed = {k: np.ascontiguousarray(enc[k][w:w + 1, :n], dtype=np.int64)
                        for k in ("input_ids", "attention_mask", "token_type_ids")}
                s, e = r.session.run(["start", "end"], feed)
                start[w, :n], end[w, :n] = s[0], e[0]
        return enc, context, start, end
    r.logits = logits
    return r


def first_window(reader):
    """A copy of the onnx reader that reads only each passage's first window."""
    r = copy.copy(reader)

    def encode(question, texts):
        enc, context = P.PassageReader.encode(r, question, texts)
        m = enc["overflow_to_sample_mapping"]
        keep = [w for w in range(len(m)) if w == 0 or m[w] != m[w - 1]]
        for k in list(enc.keys()):
            enc[k] = enc[k][keep]
        return enc, context[keep]
    r.encode = encode
    return r


def int8(reader, folder: Path):
    """A copy of the onnx reader on an int8 quantization of its ONNX file."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src = P.onnx_path(reader.folder)
    dst = folder / "reader-int8.onnx"
    cwd = os.getcwd()
    os.chdir(folder)   # the quantizer leaves scratch files in the current folder
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"])
    finally:
        os.chdir(cwd)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    r = copy.copy(reader)
    r.session = ort.InferenceSession(str(dst), opts, providers=["CPUExecutionProvider"])
    return r


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t) * 1000, out


def same(a, b) -> bool:
    return (a.text, a.start, a.end) == (b.text, b.start, b.end)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--corpus", default=str(ROOT / "seeds"))
    ap.add_argument("--questions", default=str(ROOT / "bench" / "seed_questions.jsonl"))
    args = ap.parse_args()
    questions = [json.loads(line)["question"] for line in open(args.questions, encoding="utf-8") if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(corpus_dir=Path(args.corpus), index_dir=Path(tmp) / "idx")
        emb = Embedder(config.model, backend=config.backend)
        build_index(config, embedder=emb)
        readers = {"torch": P.PassageReader(backend="torch"), "onnx": P.PassageReader(backend="onnx")}
        variants = {"own length": own_length(readers["onnx"]), "first window": first_window(readers["onnx"]),
                    "int8": int8(readers["onnx"], Path(tmp))}
        rags = {b: Rag(config, embedder=emb, answerer=ExtractiveAnswerer(config.min_score, reader=r))
                for b, r in readers.items()}
        base = rags["onnx"]
        texts = {q: [p.text for p in base.search(q)[:READ_PASSAGES]] for q in questions}
        for q in questions:   # warm up every path once
            base.embed(q)
            for r in [*readers.values(), *variants.values()]:
                r.read(q, texts[q])
            for rag in rags.values():
                rag.query(q)
        times: dict[str, list[float]] = {}
        diffs = {name: [0, 0, 0.0] for name in ["torch", *variants]}   # differing spans, readings, max |dprob|
        answers_differ = 0
        windows = []
        for rnd in range(args.rounds):
            for q in questions:
                ms, _ = timed(lambda: base.embed(q))
                times.setdefault("embed", []).append(ms)
                ms, ref = timed(lambda: readers["onnx"].read(q, texts[q]))
                times.setdefault("reader onnx", []).append(ms)
                for name, r in [("torch", readers["torch"]), *variants.items()]:
                    ms, got = timed(lambda: r.read(q, texts[q]))
                    times.setdefault("reader torch" if name == "torch" else name, []).append(ms)
                    if rnd == 0:
                        d = diffs[name]
                        d[0] += sum(not same(a, b) for a, b in zip(ref, got))
                        d[1] += len(ref)
                        d[2] = max([d[2]] + [max(abs(a.prob - b.prob), abs(a.null_prob - b.null_prob))
                                             for a, b in zip(ref, got) if same(a, b)])
                got = {}
                for b, rag in rags.items():
                    ms, got[b] = timed(lambda: rag.query(q))
                    times.setdefault(f"query {b}", []).append(ms)
                if rnd == 0:
                    answers_differ += got["torch"] != got["onnx"]
                    enc, _ = readers["onnx"].encode(q, texts[q])
                    windows.append((len(texts[q]), len(enc["input_ids"]), enc["input_ids"].shape[1],
                                    [int(n) for n in enc["attention_mask"].sum(1)]))
    p50 = {k: statistics.median(v) for k, v in times.items()}
    e = p50["embed"]
    load = os.getloadavg()
    print(f"{len(questions)} questions x {args.rounds} rounds, corpus {args.corpus}, load {load[0]:.1f}")
    for k, v in p50.items():
        print(f"  {k:14s} p50 {v:7.1f} ms  {v / e:5.1f}x the embedding")
    print(f"  query torch / query onnx: {p50['query torch'] / p50['query onnx']:.2f}x; "
          f"reader torch / reader onnx: {p50['reader torch'] / p50['reader onnx']:.2f}x")
    print(f"  whole answers differing torch vs onnx: {answers_differ} of {len(questions)}")
    for name, (n, total, dp) in diffs.items():
        print(f"  {name:14s} readings with another span than onnx fp32: {n} of {total}; "
              f"largest probability difference where the same: {dp:.2e}")
    passages = sum(w[0] for w in windows)
    print(f"  windows: {sum(w[1] for w in windows)} for {passages} passages; padded length "
          f"median {statistics.median(w[2] for w in windows)}; window lengths median "
          f"{statistics.median(n for w in windows for n in w[3])}, min {min(n for w in windows for n in w[3])}")


if __name__ == "__main__":
    main()
