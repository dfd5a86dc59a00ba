"""rag index --ray: a build embedded by Ray actors equals a local build (rag/ray_embed.py).

A local Ray cluster is started here (``ray start --head --block`` on a free port, in its
own process group, usage statistics off) and reached by address, as a real cluster
would be; it is stopped, with every process it started, at the end. The corpus is
generated; the model is the real bundled one, loaded by each actor."""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from rag import Config
from rag.build.builder import build_index
from rag.storage import records
from conftest import ROOT, free_port
from indexutil import segment_dir

pytestmark = [pytest.mark.ray, pytest.mark.subprocess]

import ray  # noqa: E402  (the test extra installs it; `make test-fast` deselects this tier)

RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
WORDS = ("river harbour council budget vaccine trial protein enzyme election museum glacier orbit "
         "satellite archive treaty bridge tunnel harvest drought festival lecture theorem").split()


def write_corpus(folder: Path) -> Path:
    """Three documents of generated sentences; one long enough for several chunks."""
    rnd = random.Random(7)
    folder.mkdir()
    for n, sentences in enumerate((6, 14, 60)):
        lines = [f"Report {n} on the {rnd.choice(WORDS)}", ""]
        for s in range(sentences):
            words = [rnd.choice(WORDS) for _ in range(rnd.randint(5, 18))]
            lines.append(f"In {1990 + s} the {' '.join(words)} was measured at {rnd.randint(2, 900)} units.")
        (folder / f"doc{n}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def cluster():
    """The address of a local Ray head node started for these tests."""
    port = free_port()
    temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")   # Ray's socket paths must stay short
    env = dict(os.environ, **RAY_ENV)
    ray_cli = str(Path(sys.executable).with_name("ray"))
    proc = subprocess.Popen([ray_cli, "start", "--head", "--block", "--port", str(port),
                             "--node-ip-address", "127.0.0.1", "--num-cpus", "2", "--num-gpus", "0",
                             "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", temp],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"ray start exited: {proc.stdout.read()[-2000:]}")
            status = subprocess.run([ray_cli, "status", "--address", address], env=env,
                                    capture_output=True, text=True)
            if status.returncode == 0 and "CPU" in status.stdout:
                break
            if time.time() > deadline:
                pytest.fail(f"the Ray head did not come up in 120 s: {status.stdout}{status.stderr}")
            time.sleep(1)
        yield address
    finally:
        os.killpg(proc.pid, signal.SIGTERM)   # the head and every process it started
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        time.sleep(1)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)
        shutil.rmtree(temp, ignore_errors=True)


def contents(index_dir: Path) -> dict:
    folder = segment_dir(index_dir)
    version = json.loads((index_dir / "CURRENT").read_text())["version"]
    manifest = json.loads((index_dir / version / "manifest.json").read_text())
    documents = json.loads((folder / "documents.json").read_text())
    part = records.read_part(folder, documents)   # chunks.npy + chunk_text.bin (index format 6)
    return {"chunks": [part.record(n) for n in range(len(part))],
            "documents": documents,
            "sentences": np.load(folder / "sentences.npy", allow_pickle=False),
            "chunk_vecs": np.load(folder / "chunk_vecs.npy", allow_pickle=False),
            "sentence_vecs": np.load(folder / "sentence_vecs.npy", allow_pickle=False),
            "manifest": manifest}


def assert_same_index(local: Path, remote: Path) -> None:
    a, b = contents(local), contents(remote)
    assert len(a["chunks"]) > 5 and len(a["sentences"]) > 50
    assert [(c["doc"], c["ordinal"], c["start"], c["end"], c["text"]) for c in a["chunks"]] == \
        [(c["doc"], c["ordinal"], c["start"], c["end"], c["text"]) for c in b["chunks"]]
    assert a["documents"] == b["documents"]
    assert np.array_equal(a["sentences"], b["sentences"])
    for key in ("chunk_vecs", "sentence_vecs"):   # stored as float16 (index format 5)
        assert a[key].shape == b[key].shape and a[key].dtype == b[key].dtype == np.float16
        x, y = a[key].astype(np.float32), b[key].astype(np.float32)
        # float32 vectors within ~1e-6 of each other can round to neighbouring float16 values
        # (one step is at most 2**-11 below 1.0), but almost all entries come out identical
        assert np.abs(x - y).max() <= 2 ** -11, key
        assert np.mean(x == y) > 0.99, key
    for key in ("model", "backend", "sentence_vectors", "settings", "counts"):
        assert a["manifest"][key] == b["manifest"][key], key
    when = lambda docs: [{k: v for k, v in d.items() if k != "indexed_at"} for d in docs]   # noqa: E731
    assert when(a["manifest"]["documents"]) == when(b["manifest"]["documents"])


@pytest.fixture
def ray_env(monkeypatch):
    for k, v in RAY_ENV.items():
        monkeypatch.setenv(k, v)


def test_ray_build_equals_local_build(cluster, tmp_path, real_embedder, ray_env, monkeypatch):
    """The Python API with an explicit address; two passes (chunks, then sentences) in one
    Ray job; small batches over the default pool (one actor per CPU), so results come
    back from several actor calls and must be put back in input order."""
    import rag
    import rag.embed.ray_cluster

    monkeypatch.setattr(rag.embed.ray_cluster, "RAY_BATCH", 8)

    corpus = write_corpus(tmp_path / "corpus")
    build_index(Config(corpus_dir=corpus, index_dir=tmp_path / "local", sentence_vectors="encoded"),
                embedder=real_embedder, progress=False)
    report = rag.index(corpus, tmp_path / "ray", ray=cluster, sentence_vectors="encoded")
    assert report.chunks == len(contents(tmp_path / "local")["chunks"])
    assert_same_index(tmp_path / "local", tmp_path / "ray")
    assert not ray.is_initialized()   # disconnected at the end


def test_cli_ray_pooled_build_equals_local_build(cluster, tmp_path, real_embedder):
    """`rag index --ray` with the address from $RAG_RAY_ADDRESS; one pass (pooled sentences)."""
    corpus = write_corpus(tmp_path / "corpus")
    build_index(Config(corpus_dir=corpus, index_dir=tmp_path / "local", sentence_vectors="pooled"),
                embedder=real_embedder, progress=False)
    env = dict(os.environ, RAG_RAY_ADDRESS=cluster, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **RAY_ENV)
    out = subprocess.run([sys.executable, "-m", "rag.cli", "index", str(corpus), "--index", str(tmp_path / "ray"),
                          "--sentence-vectors", "pooled", "--ray", "--ray-actors", "1", "--ray-batch-size", "16"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "indexed 3 documents" in out.stdout
    assert_same_index(tmp_path / "local", tmp_path / "ray")


def test_missing_ray_is_one_line_with_the_install_command(tmp_path, monkeypatch, capsys):
    from rag import cli
    from rag.errors import DependencyError
    from rag.embed.ray_cluster import RayEmbedder

    monkeypatch.setitem(sys.modules, "ray", None)   # import ray -> ImportError
    monkeypatch.setitem(sys.modules, "ray.data", None)
    with pytest.raises(DependencyError, match=r"pip install 'rag-offline\[ray\]'"):
        RayEmbedder("all-MiniLM-L6-v2")
    corpus = write_corpus(tmp_path / "corpus")
    assert cli.main(["index", str(corpus), "--index", str(tmp_path / "idx"), "--ray"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --ray needs Ray Data, which is not installed: pip install 'rag-offline[ray]'"]
    assert not (tmp_path / "idx" / "CURRENT").exists()


def test_cuda_on_a_cluster_without_gpus_is_refused_before_any_actor_starts(cluster, ray_env):
    from rag.embed.ray_cluster import RayBuildError, RayEmbedder

    with RayEmbedder("all-MiniLM-L6-v2", device="cuda", address=cluster) as embedder:
        with pytest.raises(RayBuildError, match="the Ray cluster has no GPU"):
            embedder.encode(["a question"])
    assert not ray.is_initialized()


def test_device_is_checked(tmp_path, capsys):
    import torch

    from rag import cli
    from rag.embed.embedder import Embedder
    from rag.errors import ModelError

    with pytest.raises(ValueError, match="device must be cpu, cuda"):
        Config(device="gpu")
    with pytest.raises(ModelError, match="the onnx backend runs on the CPU only"):
        Embedder(backend="onnx", device="cuda")
    corpus = write_corpus(tmp_path / "corpus")
    if torch.cuda.is_available():   # a GPU machine builds on it; one without refuses with one line
        assert cli.main(["index", str(corpus), "--index", str(tmp_path / "idx"), "--device", "cuda"]) == 0
        assert (tmp_path / "idx" / "CURRENT").exists()
        return
    assert cli.main(["index", str(corpus), "--index", str(tmp_path / "idx"), "--device", "cuda"]) == 1
    err = capsys.readouterr().err
    assert "error: --device cuda: torch" in err and "sees no CUDA GPU here" in err
    assert not (tmp_path / "idx" / "CURRENT").exists()


def test_ray_options_are_checked(tmp_path, capsys):
    from rag import cli

    corpus = write_corpus(tmp_path / "corpus")
    for argv, message in ((["index", "--ray", str(corpus)], "put the corpus folder before --ray"),
                          (["index", str(corpus), "--ray", "--ray-actors", "0"], "must be at least 1")):
        assert cli.main(argv + ["--index", str(tmp_path / "idx")]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert not (tmp_path / "idx").exists()


def test_an_actor_error_comes_back_as_one_line():
    """Ray returns what an actor raised as traceback text (the shape Ray 2.60 gives)."""
    from rag.errors import ModelError
    from rag.embed.ray_cluster import RayBuildError, actor_error

    text = ("\x1b[36mray::MapWorker(MapBatches(EmbedActor)).submit()\x1b[39m (pid=1, ip=10.0.0.2)\n"
            '  File "/x/rag/embed.py", line 69, in _load\n    raise ModelError(\n'
            "rag.errors.ModelError: cannot load embedding model 'm' offline (FileNotFoundError); use the bundled\n\n"
            "The above exception was the direct cause of the following exception:\n\n"
            "ray.exceptions.UserCodeException: UDF failed to process a data block.\n")
    err = actor_error(RuntimeError(text))
    assert type(err) is ModelError and str(err).startswith("cannot load embedding model 'm' offline")
    err = actor_error(RuntimeError("ray::MapWorker\nTraceback ...\ntorch.OutOfMemoryError: CUDA out of memory.\n"))
    assert type(err) is RayBuildError and "torch.OutOfMemoryError: CUDA out of memory." in str(err)
    assert "\n" not in str(err)
