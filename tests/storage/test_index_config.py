"""Settings belong to the index: read from its manifest on open, conflicts refused with the
rebuild command; default folders for a checkout and for an installed package."""
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import rag
from rag import Rag, cli
from rag.build.builder import build_index
from rag.config import Config
from rag.errors import IndexMismatchError

from conftest import ROOT, FakeEmbedder

FILES = {"alpha.txt": "Alpha apples grow in the orchard. The orchard is north of the river. Farmers pick them.\n",
         "beta.txt": "The bridge was built in 1901. It has three arches. Trains crossed it until 1970.\n"}
BUILT = dict(model=FakeEmbedder.name, chunk_tokens=40, chunk_overlap=4, max_model_tokens=200,
             title_in_chunks=False, sentence_vectors="encoded", fusion_weights=(0.5, 0.1, 0.7, 0.2))


@pytest.fixture
def config(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in FILES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "idx", **BUILT)
    build_index(config, embedder=FakeEmbedder(), progress=False)
    return config


def test_non_default_settings_open_with_the_folder_alone(config):
    r = Rag.open(config.index_dir, embedder=FakeEmbedder())
    assert {k: getattr(r.config, k) for k in BUILT} == BUILT
    assert r.retriever.weights == BUILT["fusion_weights"]
    assert r.query("When was the bridge built?").passages[0].doc_id == "beta.txt"
    # agreeing settings and query-time ones are fine; build-only ones never conflict
    r = Rag.open(config.index_dir, embedder=FakeEmbedder(), model=FakeEmbedder.name, top_k=2,
                 sentence_vectors="pooled")
    assert r.config.top_k == 2 and r.config.chunk_tokens == 40


@pytest.mark.parametrize("setting", [dict(model="all-MiniLM-L6-v2"), dict(chunk_tokens=100),
                                     dict(backend="torch"), dict(fusion_weights=(1.0, 0.3, 1.0, 0.4))])
def test_conflicting_explicit_setting_is_refused_with_the_rebuild_command(config, setting):
    with pytest.raises(IndexMismatchError) as err:
        Rag.open(config.index_dir, embedder=FakeEmbedder(), **setting)
    message = str(err.value)
    key = next(iter(setting))
    assert f"{key}: index has" in message and "\n" not in message
    args = ["rag", "index", str(config.corpus_dir), "--index", str(config.index_dir)]
    args += {"model": [], "backend": ["--model", FakeEmbedder.name, "--backend", "torch"]}.get(
        key, ["--model", FakeEmbedder.name])
    assert message.endswith("rebuild it with: " + shlex.join(args + ["--rebuild"])), message


def test_cli_ask_refuses_a_conflicting_model_naming_the_index(config, capsys):
    assert cli.main(["ask", "When?", "--index", str(config.index_dir), "--model", "all-MiniLM-L6-v2"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: index at") and f"--index {shlex.quote(str(config.index_dir))}" in err


def test_refresh_through_the_api_keeps_the_index_settings(config):
    (config.corpus_dir / "gamma.txt").write_text("Gamma rays are energetic. Lead blocks them.\n", encoding="utf-8")
    embedder = FakeEmbedder()
    report = rag.index(config.corpus_dir, config.index_dir, embedder=embedder)   # no settings given
    assert report.added == ["gamma.txt"] and report.updated == []   # no rebuild over other settings
    assert all("Gamma" in t or "Lead" in t for t in embedder.encoded)
    m = rag.storage.writer.read_manifest(config.index_dir)
    assert m["settings"]["chunk_tokens"] == 40 and m["retrieval"]["fusion_weights"] == [0.5, 0.1, 0.7, 0.2]


def test_defaults_in_a_checkout(monkeypatch):
    monkeypatch.delenv("RAG_CORPUS", raising=False)
    monkeypatch.delenv("RAG_INDEX", raising=False)
    c = Config()
    assert c.corpus_dir == ROOT / "seeds" and c.index_dir == ROOT / "index" / "default"
    monkeypatch.setenv("RAG_INDEX", "/x/idx")
    assert Config().index_dir == Path("/x/idx")


def test_defaults_when_installed_point_outside_the_package(tmp_path):
    site = tmp_path / "site-packages"
    shutil.copytree(ROOT / "rag", site / "rag", ignore=shutil.ignore_patterns("__pycache__"))
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("RAG_CORPUS", "RAG_INDEX", "RAG_DATA_DIR")}
    code = ("import json, rag.config as c; k = c.Config(); "
            "print(json.dumps([str(k.corpus_dir), str(k.index_dir), str(c.PROJECT_ROOT), c.CHECKOUT]))")

    def run(**extra):
        out = subprocess.run([sys.executable, "-c", code], cwd=work, env=dict(env, PYTHONPATH=str(site), **extra),
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out)

    corpus, index, root, checkout = run(XDG_DATA_HOME=str(tmp_path / "data"))
    assert checkout is None and corpus == str(work)
    assert index == str(tmp_path / "data" / "rag-offline" / "index" / "default") and not index.startswith(str(site))
    assert root == str(tmp_path / "data" / "rag-offline")   # rag eval's index/eval lives there too
    corpus, index, _, _ = run(RAG_DATA_DIR=str(tmp_path / "mine"), RAG_CORPUS=str(tmp_path / "docs"))
    assert (corpus, index) == (str(tmp_path / "docs"), str(tmp_path / "mine" / "index" / "default"))


def test_cli_index_without_a_corpus_refreshes_the_folder_the_index_was_built_from(tmp_path, monkeypatch, capsys):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    for name, text in FILES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    (tmp_path / "other").mkdir()
    monkeypatch.setenv("RAG_CORPUS", str(tmp_path / "not-this-one"))   # the default must not be used
    embedder = FakeEmbedder()
    monkeypatch.setattr(cli, "_embedder", lambda config: embedder)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["index", "docs", "--index", "idx", "--model", FakeEmbedder.name]) == 0   # a relative path
    (corpus / "gamma.txt").write_text("Gamma rays are energetic. Lead blocks them.\n", encoding="utf-8")
    embedder.encoded.clear()
    monkeypatch.chdir(tmp_path / "other")
    assert cli.main(["index", "--index", "../idx"]) == 0
    out = capsys.readouterr().out
    assert "(added 1, updated 0, removed 0)" in out.splitlines()[-1], out
    assert embedder.encoded and all("Gamma" in t or "Lead" in t for t in embedder.encoded)
    assert rag.storage.writer.read_manifest(tmp_path / "idx")["corpus"] == str(corpus)
