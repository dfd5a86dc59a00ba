"""`rag ask` with and without a running `rag serve` over the same index, side by side in one run.

Builds a temporary index of seeds/ (the real model), starts `rag serve --api-only` over it, then times
N calls of `rag ask QUESTION` (answered by the server: rag.discovery) and N of `rag ask QUESTION --local`
(loads the model and the index itself), alternating, each a fresh process as a person would run it.
Prints each call, the medians and their ratio.

    PYTHONPATH=. .venv/bin/python bench/ask_server.py [-n 5] [--index DIR]
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "How many North Korean soldiers were sent to Russia last fall?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(env, *args) -> float:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "rag", "ask", QUESTION, *args], env=env, capture_output=True,
                       text=True, timeout=600)
    took = time.perf_counter() - t0
    if r.returncode != 0 or "12,000" not in r.stdout:
        sys.exit(f"rag ask {' '.join(args)} failed: {r.stderr or r.stdout}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5, help="calls of each kind (default 5)")
    ap.add_argument("--index", help="an existing index of seeds/ (default: build one in a temporary folder)")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               GRADIO_ANALYTICS_ENABLED="False")
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(args.index) if args.index else Path(tmp) / "idx"
        env.update(RAG_INDEX=str(index), RAG_CORPUS=str(ROOT / "seeds"))
        if not args.index:
            subprocess.run([sys.executable, "-m", "rag", "index"], env=env, check=True, capture_output=True)
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "rag", "serve", "--api-only", "--port", str(port)],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 300
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2).close()
                    break
                except OSError:
                    if server.poll() is not None or time.time() > deadline:
                        sys.exit("rag serve did not start")
                    time.sleep(0.3)
            served, local = [], []
            for i in range(args.n):   # alternate, so both kinds see the same machine load
                served.append(timed(env))
                local.append(timed(env, "--local"))
                print(f"call {i + 1}: with the server {served[-1]:.2f} s, loading locally {local[-1]:.2f} s",
                      flush=True)
        finally:
            server.terminate()
            server.wait(timeout=60)
    s, l = statistics.median(served), statistics.median(local)
    print(f"rag ask, median of {args.n}: with a running rag serve {s:.2f} s; without (--local) {l:.2f} s; "
          f"ratio {l / s:.1f}x")


if __name__ == "__main__":
    main()
