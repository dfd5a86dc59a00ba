"""Shared fixtures: a fake embedder for tests where the real model adds nothing,
and the real bundled model (loaded once per session) where behaviour depends on it."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from rag.cli import ui_package
from rag.embed.base import EmbeddingModel

ui_package()   # ui/ is imported as rag_ui, its installed name (also from a checkout that is not installed)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

TESTS = Path(__file__).resolve().parent   # the helpers (index_worker.py, apiserver.py, ...) live here
ROOT = TESTS.parent
SEEDS = ROOT / "seeds"
SEED_DOC = "north-korean-troops-in-russia.txt"


class FakeEmbedder(EmbeddingModel):
    """Deterministic bag-of-words hashing vectors; counts calls so tests can see re-embedding."""

    name = "fake-hash-64"
    dim = 64

    def __init__(self):
        self.encoded: list[str] = []

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text)) + 2

    def encode(self, texts, *, progress=None, on_batch=None):
        self.encoded.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"\w+", t.lower()):
                h = int.from_bytes(hashlib.md5(w.encode()).digest()[:4], "little")
                out[i, h % self.dim] += 1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else out[i]
        if on_batch:
            on_batch(len(texts))
        return out


@pytest.fixture
def fake_embedder():
    return FakeEmbedder()


@pytest.fixture(scope="session")
def real_embedder():
    from rag.embed.embedder import Embedder

    return Embedder()


@pytest.fixture
def seed_corpus(tmp_path):
    """A private copy of seeds/ that a test may modify."""
    dst = tmp_path / "corpus"
    shutil.copytree(SEEDS, dst)
    return dst


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, real_embedder):
    """The seed corpus indexed once with the real model."""
    from rag import Config
    from rag.build.builder import build_index

    index_dir = tmp_path_factory.mktemp("seed") / "index"
    build_index(Config(corpus_dir=SEEDS, index_dir=index_dir), embedder=real_embedder)
    return index_dir


@pytest.fixture(scope="session")
def seed_rag(seed_index, real_embedder):
    from rag import Rag

    return Rag.open(seed_index, embedder=real_embedder)


@pytest.fixture
def cli_env(tmp_path, seed_corpus):
    env = dict(os.environ, RAG_CORPUS=str(seed_corpus), RAG_INDEX=str(tmp_path / "idx"),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(cli_env):
    """`rag serve` on a free local port, building the missing index first."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--port", str(port)], env=cli_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"rag serve exited: {proc.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("rag serve did not answer within 120 s")
    while time.time() < deadline:   # it serves from the lexical version first; wait for every vector
        with urllib.request.urlopen(url + "api/status", timeout=5) as resp:
            if json.loads(resp.read())["vectors"]["complete"]:
                break
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("rag serve did not finish its index within 120 s")
    yield url
    proc.terminate()
    proc.wait(timeout=20)




# ---------------------------------------------------------------- test tiers
# Markers (pyproject.toml): model (loads the real embedding model), subprocess (starts processes:
# the CLI, servers, writers killed with -9, converter workers), browser (Chromium), ray (a Ray
# cluster), llm (a real local LLM server), slow (minutes of work). `make test-fast` runs the tests
# with none of them. Files wholly in a tier say so with `pytestmark`; the rest are marked here from
# what a test uses: the real_embedder or browser fixture, or code that starts a process or converts
# an office file or PDF (converters run in worker processes: rag.ingest.sandbox).
_STARTS_PROCESS = re.compile(r"subprocess\.|Popen\(|index_worker|sys\.executable|multiprocessing|"
                             r"\.(?:docx|pptx|xlsx|epub|pdf)\b|bombs\.|serve\(|rag_server|ray_env|launch_chromium|cli_run|\brun\(\[")


def _source(obj) -> str:
    import inspect

    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        return ""


def pytest_collection_modifyitems(config, items):
    import inspect

    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if "real_embedder" in names:
            item.add_marker(pytest.mark.model)
        if names & {"browser", "page"}:
            item.add_marker(pytest.mark.browser)
        source = _source(item.function)
        module = getattr(item, "module", None)
        for name in getattr(getattr(item.function, "__code__", None), "co_names", ()):   # its helpers too
            helper = getattr(module, name, None)
            if inspect.isfunction(helper) or inspect.isclass(helper):
                source += _source(helper)
        fixtures_source = ""
        for name in names:
            defs = item._fixtureinfo.name2fixturedefs.get(name) or ()
            for d in defs:
                fixtures_source += _source(d.func)
        if _STARTS_PROCESS.search(source) or _STARTS_PROCESS.search(fixtures_source):
            item.add_marker(pytest.mark.subprocess)


@pytest.fixture
def cli(rag, monkeypatch):
    """The `rag` command in-process over the requesting module's own `rag` fixture (a Rag with a fake embedder)."""
    import rag.cli as cli_module

    monkeypatch.setattr(cli_module, "_embedder", lambda config: FakeEmbedder())
    monkeypatch.setenv("RAG_INDEX", str(rag.config.index_dir))
    monkeypatch.setenv("RAG_CORPUS", str(rag.config.corpus_dir))
    return cli_module.main


def pytest_runtest_setup(item):
    """A browser test fails, not skips, without Debian's chromium: deselect the tier (-m "not browser") instead."""
    import shutil

    if item.get_closest_marker("browser") and not shutil.which("chromium"):
        pytest.fail("needs Debian's chromium at /usr/bin/chromium: `make test` installs it; "
                    "or deselect the browser tier with -m 'not browser'", pytrace=False)


def launch_chromium(playwright):
    """Debian's chromium, headless, with its own background traffic switched off."""
    import shutil

    return playwright.chromium.launch(executable_path=shutil.which("chromium"), args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"])


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module (tests using it are marked browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()
