"""Writers and readers at the same time: the writer lock, kill -9 at random moments,
and readers loading while a writer swaps versions. Real subprocesses (tests/index_worker.py)."""
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rag.storage import writer as store
from rag.build.builder import build_index, indexed_text
from rag.errors import RagError

import index_worker as worker
from conftest import FakeEmbedder
from indexutil import leftovers, version_dir

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

WORKER = str(Path(worker.__file__))
TEXTS = {worker.sha256_bytes(t.encode()): (tag, t) for tag in "AB" for t in worker.contents(tag).values()}


def spawn(*args):
    proc = subprocess.Popen([sys.executable, WORKER, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def wait_for(proc, line, timeout=30):
    """Read proc's stdout until line (in a thread, so a silent process cannot hang the test)."""
    got = []

    def read():
        for out in proc.stdout:
            if out.strip() == line:
                got.append(out)
                return

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(timeout)
    assert got, f"worker never printed {line!r}"


def locked_error():
    from rag.errors import IndexLockedError   # absent before issue 10
    return IndexLockedError


# ---------------------------------------------------------------- one writer at a time

def test_second_writer_is_refused_then_succeeds(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in worker.contents("A").items():
        (corpus / name).write_text(text, encoding="utf-8")
    index_dir = tmp_path / "idx"
    slow = spawn("slow", index_dir, corpus, 1.5)   # builds content A, slowly
    try:
        wait_for(slow, "encoding")   # it has read the corpus (and the old index): a writer in progress
        for name, text in worker.contents("B").items():   # the corpus changes meanwhile
            (corpus / name).write_text(text, encoding="utf-8")
        with pytest.raises(RagError) as err:
            build_index(worker.config(index_dir, corpus), embedder=fake_embedder)
        assert isinstance(err.value, locked_error())
        message = str(err.value)
        assert re.fullmatch(rf"another writer is updating {re.escape(str(index_dir))} "
                            rf"\(pid {slow.pid} since [0-9T:+-]+\); try again when it finishes", message), message
        assert "\n" not in message
    finally:
        assert slow.wait(timeout=60) == 0, slow.stderr.read()
    # the slow writer's content A is there: the refused writer wrote nothing, before or after
    assert worker.check(store.load(index_dir), TEXTS) == "A"
    report = build_index(worker.config(index_dir, corpus), embedder=fake_embedder)   # the retry
    assert report.changed and sorted(report.updated) == sorted(worker.contents("B"))
    assert worker.check(store.load(index_dir), TEXTS) == "B"


def test_lock_is_exclusive_and_freed_when_released(tmp_path):
    from rag.storage.lock import IndexLock

    with IndexLock(tmp_path / "idx"):
        with pytest.raises(locked_error(), match=f"pid {os.getpid()} since"):
            IndexLock(tmp_path / "idx").acquire()
    with IndexLock(tmp_path / "idx"):
        pass
    assert not (tmp_path / "idx").exists()   # a lock alone leaves nothing behind


# ---------------------------------------------------------------- kill -9

@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_at_random_moments_leaves_old_or_new_index(tmp_path, seed):
    rng = random.Random(seed)
    index_dir = tmp_path / "idx"
    cfg = worker.config(index_dir)
    build_index(cfg, embedder=FakeEmbedder(), documents=worker.documents("A"))
    stats = {"kills": 0, "mid_save": 0, "saves": 0}
    for _ in range(6):
        proc = spawn("alternate", index_dir, 0)
        time.sleep(rng.uniform(0.0, 0.3))   # a build takes about 40 ms here, its save about 12
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL   # it really was killed mid-run
        stats["kills"] += 1
        stats["saves"] += out.count("saved")
        current = version_dir(index_dir).name   # killed in a save: a temporary or newer version folder
        stats["mid_save"] += any(p.name.startswith(".tmp-") or p.name > current for p in index_dir.iterdir()
                                 if p.name != "CURRENT")
        # the index is exactly one of the two contents, checksums and all
        assert worker.check(store.load(index_dir), TEXTS) in "AB"
    # the next writer is not blocked by the dead one's lock and removes its leftovers
    build_index(cfg, embedder=FakeEmbedder(), documents=worker.documents("B"))
    assert worker.check(store.load(index_dir), TEXTS) == "B"
    assert leftovers(index_dir) == []
    print(f"seed {seed}: {stats}")


@pytest.mark.parametrize("seed", [6, 7])
def test_kill_during_progressive_builds_leaves_a_whole_index(tmp_path, seed):
    """Progressive builds (a lexical version with every document pending, then a version per window
    of vectors): a kill at any moment leaves a whole version whose pending documents hold zero
    vectors and the others their vectors; the next build completes it."""
    rng = random.Random(seed)
    index_dir = tmp_path / "idx"
    cfg = worker.config(index_dir)
    build_index(cfg, embedder=FakeEmbedder(), documents=worker.documents("A"))
    partial = 0
    for _ in range(6):
        proc = spawn("progressive", index_dir, 0)
        time.sleep(rng.uniform(0.0, 3.0))   # a build: its lexical version, then 8 windows of 0.1 s or more
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        data = store.load(index_dir)
        tag = worker.check(data, TEXTS)
        docs = data.manifest["documents"]
        partial += any(d.get("pending") for d in docs)
        vecs, at = np.asarray(data.chunk_vecs), 0
        titles = {d["id"]: d["title"] for d in docs}
        for d in docs:
            rows = vecs[at:at + d["chunks"]]
            if d.get("pending"):
                assert not rows.any(), d["id"]
            else:
                texts = [indexed_text(c, titles[d["id"]], cfg) for c in data.chunks[at:at + d["chunks"]]]
                assert np.allclose(rows, FakeEmbedder().encode(texts), atol=2e-3), d["id"]
            at += d["chunks"]
    build_index(cfg, embedder=FakeEmbedder(), documents=worker.documents(tag))   # completes what was left
    data = store.load(index_dir)
    assert worker.check(data, TEXTS) == tag and not any(d.get("pending") for d in data.manifest["documents"])
    assert leftovers(index_dir) == []
    print(f"seed {seed}: {partial} of 6 kills left a partial index")


@pytest.mark.parametrize("seed", [4, 5])
def test_kill_during_incremental_refreshes_leaves_old_or_new_index(tmp_path, seed):
    """Refreshes that write one small segment (the other documents stay where they are)
    and merge segments now and then: a kill at any moment leaves a whole version."""
    rng = random.Random(seed)
    index_dir = tmp_path / "idx"
    cfg = worker.config(index_dir)
    build_index(cfg, embedder=FakeEmbedder(), documents=worker.documents("A"))
    first, saves, segment_counts = worker.TOPICS[0] + ".txt", 0, set()
    for _ in range(6):
        proc = spawn("toggle", index_dir, 0)
        time.sleep(rng.uniform(0.2, 1.2))   # the first refresh of a process takes a few 100 ms
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        saves += out.count("saved")
        tags = worker.check_documents(store.load(index_dir), TEXTS)   # whole, checksums and all
        assert {t for i, t in tags.items() if i != first} == {"A"}
        segment_counts.add(len(store.read_manifest(index_dir)["segments"]))
    print(f"seed {seed}: {saves} refreshes, segments in use: {sorted(segment_counts)}")
    assert saves > 0 and max(segment_counts) > 1   # really incremental: several segments in use
    build_index(cfg, embedder=FakeEmbedder(), documents=worker.toggled(1))   # B for the first
    assert worker.check_documents(store.load(index_dir), TEXTS)[first] == "B"
    assert leftovers(index_dir) == []


# ---------------------------------------------------------------- readers during swaps

def test_readers_never_break_or_misread_during_swaps(tmp_path):
    index_dir = tmp_path / "idx"
    build_index(worker.config(index_dir), embedder=FakeEmbedder(), documents=worker.documents("B"))
    stop = tmp_path / "stop"
    readers = [spawn("read", index_dir, 60, stop) for _ in range(2)]
    writer = spawn("alternate", index_dir, 120)
    try:
        wait_for(writer, "saved 120", timeout=120)
        assert writer.wait(timeout=30) == 0, writer.stderr.read()
    finally:
        stop.touch()
        if writer.poll() is None:
            writer.kill()
    summaries = []
    for r in readers:
        out, err = r.communicate(timeout=60)
        assert r.returncode == 0, err
        summaries.append(json.loads(out.strip().splitlines()[-1]))
    print(f"readers: {summaries}")
    for s in summaries:
        assert s["errors"] == [], s["errors"][:3]
        assert s["loads"] > 50 and s["A"] > 0 and s["B"] > 0   # it really read during the swaps
    assert version_dir(index_dir).name == "v-000121" and leftovers(index_dir) == []
