"""Backends: recorded in the manifest, a mismatch refused, ONNX vectors close to torch."""
import dataclasses
import shlex

import numpy as np
import pytest

from rag.storage import writer as store
from rag.build.builder import build_index
from rag.config import Config
from rag.errors import DependencyError, IndexMismatchError
from rag.ingest.read import Document, sha256_bytes

from conftest import SEED_DOC, SEEDS, FakeEmbedder
from indexutil import edit_manifest



class Int8Fake(FakeEmbedder):
    backend = "onnx-int8"


def docs():
    text = "Ants carry leaves. Colonies are big. Queens lay eggs."
    return [Document("a", "Ants", text, sha256_bytes(text.encode()))]


def test_backend_is_recorded_and_a_query_with_another_is_refused(tmp_path):
    config = Config(index_dir=tmp_path / "idx", corpus_dir=tmp_path / "corpus", model=FakeEmbedder.name,
                    backend="onnx-int8")
    build_index(config, embedder=Int8Fake(), documents=docs(), progress=False)
    manifest = store.read_manifest(config.index_dir)
    assert manifest["backend"] == "onnx-int8" and manifest["settings"]["backend"] == "onnx-int8"
    store.load(config.index_dir, config.index_settings())   # the same backend loads
    torch_config = dataclasses.replace(config, backend="torch")
    with pytest.raises(IndexMismatchError) as err:
        store.load(config.index_dir, torch_config.index_settings(), corpus=config.corpus_dir)
    message = str(err.value)
    assert "backend: index has 'onnx-int8', config has 'torch'" in message
    assert message.endswith("rebuild it with: " + shlex.join(
        ["rag", "index", str(config.corpus_dir), "--index", str(config.index_dir), "--model", FakeEmbedder.name,
         "--backend", "torch", "--rebuild"]))
    onnx = dataclasses.replace(config, backend="onnx")   # the default: no --backend in the command
    with pytest.raises(IndexMismatchError) as err:
        store.load(config.index_dir, onnx.index_settings(), corpus=config.corpus_dir)
    assert str(err.value).endswith(f"--index {config.index_dir} --model {FakeEmbedder.name} --rebuild")


def test_embedder_backend_must_match_the_configuration(tmp_path, monkeypatch):
    monkeypatch.delenv("RAG_BACKEND", raising=False)
    config = Config(index_dir=tmp_path / "idx", model=FakeEmbedder.name)   # onnx, the default
    with pytest.raises(ValueError, match="backend 'onnx-int8' is not the configured backend 'onnx'"):
        build_index(config, embedder=Int8Fake(), documents=docs(), progress=False)
    assert not (config.index_dir / "CURRENT").exists()


def test_onnx_is_the_default_and_recorded_in_the_manifest(tmp_path, monkeypatch):
    from rag.embed.embedder import Embedder

    monkeypatch.delenv("RAG_BACKEND", raising=False)
    assert Config().backend == "onnx" and Embedder().backend == "onnx" and FakeEmbedder.backend == "onnx"
    config = Config(index_dir=tmp_path / "idx", model=FakeEmbedder.name)
    build_index(config, embedder=FakeEmbedder(), documents=docs(), progress=False)
    manifest = store.read_manifest(config.index_dir)
    assert manifest["backend"] == "onnx" and manifest["settings"]["backend"] == "onnx"
    monkeypatch.setenv("RAG_BACKEND", "torch")   # still selectable
    assert Config().backend == "torch" and Embedder().backend == "torch"


def test_index_from_before_backends_loads_as_torch_and_encoded(tmp_path, monkeypatch):
    """An index built when torch was the default (no backend in its manifest) keeps working with torch:
    opened by its folder it brings its own backend; a refresh keeps it (no rebuild to the new default)."""
    from rag import Rag
    from rag.storage.settings import for_index

    monkeypatch.delenv("RAG_BACKEND", raising=False)

    class TorchFake(FakeEmbedder):
        backend = "torch"

    config = Config(index_dir=tmp_path / "idx", model=TorchFake.name, backend="torch")
    build_index(config, embedder=TorchFake(), documents=docs(), progress=False)

    def legacy(m):
        for key in ("backend", "sentence_vectors"):
            del m["settings"][key]
            m.pop(key)
    edit_manifest(config.index_dir, legacy)
    default = Config(index_dir=config.index_dir, model=TorchFake.name)   # onnx now
    with pytest.raises(IndexMismatchError, match="backend: index has 'torch', config has 'onnx'"):
        store.load(config.index_dir, default.index_settings())
    opened = for_index(config.index_dir, base=default)   # what Rag.open, rag ask/serve/index do
    assert opened.backend == "torch" and opened.sentence_vectors == "encoded"
    rag = Rag.open(config.index_dir, embedder=TorchFake(), model=TorchFake.name)
    assert rag.config.backend == "torch" and rag.search("ants carry leaves")[0].doc_id == "a"
    # encoded is the default (and what old indexes hold): nothing to redo
    fresh = TorchFake()
    assert build_index(opened, embedder=fresh, documents=docs(), progress=False).changed is False
    # pooled vectors wanted: a refresh rebuilds everything rather than mixing both kinds
    pooled = dataclasses.replace(opened, sentence_vectors="pooled")
    store.load(config.index_dir, pooled.index_settings())   # a query does not care
    report = build_index(pooled, embedder=fresh, documents=docs(), progress=False)
    assert report.changed and len(fresh.encoded) == 4
    assert store.read_manifest(config.index_dir)["backend"] == "torch"


def test_config_refuses_unknown_backend():
    with pytest.raises(ValueError, match="backend must be one of torch, onnx, onnx-int8"):
        Config(backend="tensorrt")


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("RAG_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


@pytest.mark.parametrize("backend, mean_cos, min_cos", [("onnx", 0.9999, 0.9999), ("onnx-int8", 0.98, 0.95)])
def test_onnx_vectors_are_close_to_torch(onnx_cache, backend, mean_cos, min_cos):
    """Measured on the seed article's lines: onnx cosine 1.0000 (max abs difference 1e-7);
    onnx-int8 mean 0.993, minimum 0.990."""
    from rag.embed.embedder import Embedder

    lines = [ln.strip() for ln in (SEEDS / SEED_DOC).read_text(encoding="utf-8").splitlines() if ln.strip()]
    ref = Embedder(backend="torch").encode(lines)
    emb = Embedder(backend=backend)
    vecs = emb.encode(lines)
    cos = np.sum(vecs * ref, axis=1)
    assert vecs.dtype == np.float32 and vecs.shape == ref.shape
    assert cos.mean() >= mean_cos and cos.min() >= min_cos, (cos.mean(), cos.min())
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    # one pass gives the same chunk vectors as encode, and span vectors with them
    spans = [[(0, min(20, len(t)))] for t in lines[:4]]
    cvecs, per_text = emb.encode_spans(lines[:4], spans)
    assert np.sum(cvecs * vecs[:4], axis=1).min() >= 0.99999
    assert all(v.shape == (1, ref.shape[1]) for v in per_text)
    cached = list((emb_cache := __import__("rag.embed.onnx", fromlist=["cache_root"]).cache_root()).rglob("*.onnx"))
    assert cached and all(p.parent.parent == emb_cache / "onnx" for p in cached)


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_a_vector_does_not_depend_on_the_texts_encoded_with_it(onnx_cache, backend):
    """int8 quantizes a layer's input with one range over the tensor it is given: run in a batch,
    a text's vector would move with its batch mates and their padding (the evidence score of one
    sentence moved by 0.03 between a 1- and a 41-document corpus). Each text is run alone."""
    from rag.embed.embedder import Embedder

    lines = [ln.strip() for ln in (SEEDS / SEED_DOC).read_text(encoding="utf-8").splitlines() if ln.strip()]
    emb = Embedder(backend=backend)
    alone = np.stack([emb.encode([t])[0] for t in lines[:6]])
    together = emb.encode(lines[:6] + ["a short line", lines[-1] * 3])[:6]
    assert np.abs(alone - together).max() <= 1e-5


@pytest.mark.model
def test_a_damaged_cached_model_is_produced_again(onnx_cache):
    """The int8 file is made once and cached; a cached file ONNX Runtime cannot read (a disk fault,
    or a copy cut short outside this package) is exported and quantized again, to the same bytes."""
    import hashlib

    from rag.embed import onnx as onnx_backend
    from rag.embed.embedder import Embedder

    Embedder(backend="onnx-int8").encode(["warm up"])
    int8 = next(onnx_backend.cache_root().rglob("model-int8.onnx"))
    digest = hashlib.sha256(int8.read_bytes()).hexdigest()
    int8.write_bytes(b"not an onnx file")
    onnx_backend._SESSIONS.clear()
    vec = Embedder(backend="onnx-int8").encode(["Ants carry leaves."])
    assert vec.shape == (1, 384) and hashlib.sha256(int8.read_bytes()).hexdigest() == digest
    assert not [p for p in int8.parent.iterdir() if p.name.startswith(".tmp-")]


def test_missing_onnxruntime_names_the_install_command(monkeypatch):
    import builtins

    from rag.embed import onnx as onnx_backend

    real_import = builtins.__import__

    def no_ort(name, *args, **kwargs):
        if name.startswith("onnxruntime"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_ort)
    with pytest.raises(DependencyError, match=r"pip install onnxruntime onnx"):
        onnx_backend.onnx_forward(None, str(SEEDS), "onnx")
