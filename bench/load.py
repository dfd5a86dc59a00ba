"""Load figures for the HTTP API: N concurrent clients asking through POST /api/ask for T seconds.

    python bench/load.py [--clients 1 4 10] [--seconds 30] [--url URL | --index DIR] [--openai]

Without --url it starts `rag serve` (this checkout, on a free loopback port, over --index or the
default index, built from seeds/ if missing) and stops it at the end; with --url it uses a
running server (login from $RAG_AUTH, sent as 'Authorization: Bearer PASSWORD'). Each client is
a thread with urllib that asks the questions of bench/seed_questions.jsonl in turn, from a
different starting point, one request at a time, until the time is up (a request in flight
then finishes and counts). --openai sends them to /v1/chat/completions instead. Prints one
line per N: answers/s, p50/p95/max latency in ms and errors (non-200 replies, failed
connections, answers without an "answer"), then a Markdown table of the same figures.
A load measurement, not a test: nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def questions() -> list[str]:
    with open(ROOT / "bench" / "seed_questions.jsonl", encoding="utf-8") as f:
        return [json.loads(line)["question"] for line in f if line.strip()]


def start_server(index: str | None) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False",
               PYTHONPATH=str(ROOT))
    env.pop("RAG_AUTH", None)
    cmd = [sys.executable, "-m", "rag.cli", "serve", "--port", str(port)] + (["--index", index] if index else [])
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"rag serve exited with status {proc.returncode}")
        try:
            urllib.request.urlopen(url + "/api/status", timeout=2).close()
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    sys.exit("rag serve did not answer within 300 s")


def run(url: str, clients: int, seconds: float, headers: dict, openai: bool) -> dict:
    qs = questions()
    path = "/v1/chat/completions" if openai else "/api/ask"
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client(i):
        n = i * 7
        while time.perf_counter() < stop:
            q = qs[n % len(qs)]
            n += 1
            body = {"messages": [{"role": "user", "content": q}]} if openai else {"question": q}
            req = urllib.request.Request(url + path, data=json.dumps(body).encode(), headers=headers)
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(req, timeout=120) as resp:
                    reply = json.loads(resp.read())
                ok = "choices" in reply if openai else "answer" in reply
                error = None if ok else "reply without an answer"
            except urllib.error.HTTPError as exc:
                error = f"HTTP {exc.code}"
            except (OSError, ValueError) as exc:
                error = type(exc).__name__
            dt = time.perf_counter() - t0
            with lock:
                (errors.append(error) if error else latencies.append(dt))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    lat = sorted(latencies)

    def pct(p):
        return round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else None

    return {"clients": clients, "seconds": round(elapsed, 1), "answers": len(lat),
            "answers_per_s": round(len(lat) / elapsed, 2), "p50_ms": pct(0.50), "p95_ms": pct(0.95),
            "max_ms": round(1000 * lat[-1], 1) if lat else None, "errors": len(errors),
            "error_kinds": sorted(set(errors))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4, 10])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--url", help="a running server (default: start rag serve)")
    ap.add_argument("--index", help="index folder for the server started here")
    ap.add_argument("--openai", action="store_true", help="ask through /v1/chat/completions")
    args = ap.parse_args()
    headers = {"Content-Type": "application/json"}
    if args.url and os.environ.get("RAG_AUTH"):
        headers["Authorization"] = "Bearer " + os.environ["RAG_AUTH"].partition(":")[2]
    proc, url = (None, args.url.rstrip("/")) if args.url else start_server(args.index)
    rows = []
    try:
        print(f"server {url}; {os.cpu_count()} CPUs; {len(questions())} seed questions", flush=True)
        for n in args.clients:
            rows.append(run(url, n, args.seconds, headers, args.openai))
            print(json.dumps(rows[-1]), flush=True)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    print("\n| clients | answers/s | p50 ms | p95 ms | max ms | errors |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['clients']} | {r['answers_per_s']} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} | "
              f"{r['errors']} |")


if __name__ == "__main__":
    main()
