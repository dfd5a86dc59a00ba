"""`rag serve --api-only` over a new folder (its index built by the server, the real model), a file uploaded as soon
as it serves, while its own build is still computing vectors: the upload is answered 200 or 202 "queued", never
refused ("another writer is updating ..."), and is indexed and answerable from that file once the writer is free;
the folder's own files are unchanged (the server is then stopped, its vectors perhaps still being computed: the
index is left whole). A real process on a real port."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from apiserver import get_json, multipart, post_json, request
from conftest import free_port

pytestmark = [pytest.mark.model, pytest.mark.subprocess]
ROOT = Path(__file__).resolve().parents[2]
TOWNS = ["Quillmarsh", "Ennisfall", "Westerholm", "Pellinor", "Hollowmere", "Varnholm", "Ashcombe", "Thornquay"]
CANAL = b"The Zephyrine canal\n\nThe Zephyrine canal was dug by 4,312 workers in 1761.\n"


def write_folder(corpus: Path, n: int) -> None:
    """n short reports, each several sentences (enough passages that the build is still computing vectors when
    the server starts answering)."""
    corpus.mkdir()
    for i in range(n):
        town = TOWNS[i % len(TOWNS)]
        text = " ".join(f"In year {1700 + i + j} the {town} council {i} recorded {j * 7 + i} new wells, "
                        f"{j + i} bridges and a market of {i * 3 + j} stalls." for j in range(12))
        (corpus / f"report-{i:03d}.txt").write_text(f"Report {i} of {town}\n\n{text}\n", encoding="utf-8")


def test_an_upload_while_serves_first_build_computes_vectors_is_indexed_and_answerable(tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "idx"
    write_folder(corpus, 40)
    before = {p.name: p.read_bytes() for p in corpus.iterdir()}
    port = free_port()
    env = dict(os.environ, RAG_CORPUS=str(corpus), RAG_INDEX=str(index), PYTHONPATH=str(ROOT),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--api-only", "--port", str(port)], env=env,
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 600
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                _, first = get_json(url, "/api/status")
                break
            except OSError:
                assert time.time() < deadline, "rag serve did not answer"
                time.sleep(0.2)
        code, _, raw = request(url, "POST", "/api/documents", *multipart([("zephyrine.txt", CANAL)]), timeout=300)
        assert code in (200, 202), raw   # before the queue: 409 while the build was computing vectors
        if code == 202:
            upload_url = json.loads(raw)["url"]
            while True:
                _, got = get_json(url, upload_url)
                if got["state"] in ("done", "failed"):
                    break
                assert time.time() < deadline and got["state"] in ("queued", "indexing"), got
                time.sleep(0.2)
            assert got["state"] == "done" and got["added"] == ["uploads/zephyrine.txt"], got
        _, answer = post_json(url, "/api/ask", {"question": "How many workers dug the Zephyrine canal?"})
        assert "4,312" in answer["answer"] and answer["citations"][0]["doc_id"] == "uploads/zephyrine.txt", answer
        assert get_json(url, "/api/status")[1]["documents"] == 41
        print(f"build still computing vectors when the upload came: {first['vectors']['complete'] is False}; "
              f"upload answered {code}; status before {first['vectors']}; reply {raw[:300]!r}")
    finally:
        proc.terminate()
        out = proc.communicate(timeout=60)[0]
    assert "another writer" not in out and "Traceback" not in out, out
    assert {p.name: p.read_bytes() for p in corpus.iterdir() if p.is_file()} == before
    assert sorted(os.listdir(corpus / "uploads")) == ["zephyrine.txt"]
