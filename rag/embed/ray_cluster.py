"""Embed a build's texts on a Ray cluster: ``rag index --ray [ADDRESS]``.

``RayEmbedder`` has the interface of rag.embed.embedder.Embedder (``name``, ``backend``,
``count_tokens``, ``dim``, ``token_outputs``, ``encode``, ``encode_spans``), so
rag.build.builder chunks, names, stores and describes the index exactly as in a local
build; only the two encode calls run elsewhere. Their texts, longest first,
become a Ray Data dataset; ``map_batches`` sends batches of them to a pool of
actors (``EmbedActor``), each of which loads the same model itself (the bundled
one from its package) with the same backend, device and batch size and calls
the local Embedder's own code on them; the vectors come back with their input
positions and are put back in input order. So a Ray build equals a local one:
same chunk ids and texts, vectors within float tolerance (tests/test_ray.py).

The driver keeps only the tokenizer work (chunking needs it). Connecting:
ADDRESS ``None`` or ``""`` is ``ray.init()`` (``$RAG_RAY_ADDRESS`` if set, else
a running local cluster, else a new one on this machine), ``auto`` a cluster
this node belongs to, ``ray://HEAD:10001`` a remote one through Ray Client.
This package's own code is shipped to the workers (runtime_env py_modules);
its dependencies (sentence-transformers, torch, the model package) must be
installed on every node, and a model given by path must exist there. Usage statistics are switched off unless
``$RAY_USAGE_STATS_ENABLED`` says otherwise. With device ``cuda`` each actor
takes one GPU. A cluster this module started is shut down by ``close``. Does
not handle autoscaling decisions, retries of a failed build (run it again:
the index is untouched), or embedding questions (queries run locally).
"""
from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import numpy as np

from rag import errors
from rag.embed.embedder import Embedder
from rag.config import default_backend
from rag.errors import DependencyError, RagError

INSTALL = "pip install 'rag-offline[ray]'"
RAY_BATCH = 256   # texts per map_batches call (an actor sorts and batches them again by batch_size)


class RayBuildError(RagError):
    """The Ray cluster could not be reached or an actor failed; the index is unchanged."""


def require_ray():
    """The ray module with Ray Data, or DependencyError naming the install command."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise DependencyError(f"--ray needs Ray Data, which is not installed: {INSTALL}") from None
    return ray


class EmbedActor:
    """One model per actor; called with batches {"i", "text", "spans"} -> {"i", "vec", "span_vecs"}."""

    def __init__(self, name: str, backend: str, device: str, batch_size: int):
        from rag.embed.embedder import offline_env

        offline_env()
        self.embedder = Embedder(name, batch_size=batch_size, backend=backend, device=device)

    def __call__(self, batch: dict) -> dict:
        texts = [str(t) for t in batch["text"]]
        if len(batch["spans"]) and batch["spans"][0] != "-":   # one pass: sentence spans too
            spans = [[tuple(s) for s in json.loads(x)] for x in batch["spans"]]
            vecs, per = self.embedder.encode_spans(texts, spans)
            packed = [np.ascontiguousarray(p, dtype=np.float32).tobytes() for p in per]
        else:
            vecs, packed = self.embedder.encode(texts), [b""] * len(texts)
        return {"i": np.asarray(batch["i"], dtype=np.int64), "vec": np.asarray(vecs, dtype=np.float32),
                "span_vecs": np.array(packed, dtype=object)}


def _quiet(ray):
    """Ray Data's own progress bars and per-run log lines off: rag.build.progress shows the phase."""
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)   # failures: one line (actor_error)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    if hasattr(ctx, "print_on_execution_start"):
        ctx.print_on_execution_start = False
    return ray


def actor_error(exc: BaseException) -> RagError:
    """The error to raise for a failed Ray run: the RagError an actor raised (Ray passes it
    back as traceback text), else a RayBuildError naming the first error in that text."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))   # Ray colours the worker's name
    for name, message in reversed(re.findall(r"^rag\.[\w.]*?\.?(\w+): (.+)$", text, re.M)):
        cls = getattr(errors, name, None)
        if isinstance(cls, type) and issubclass(cls, RagError):
            return cls(message)
    first = re.search(r"^((?:\w+\.)*\w*(?:Error|Exception)): (.+)$", text, re.M)
    why = f"{first.group(1)}: {first.group(2)}" if first else f"{type(exc).__name__}: {text.strip()[:200]}"
    return RayBuildError(f"the Ray build failed ({why[:400]}); the index is unchanged")


class RayEmbedder(Embedder):
    """An Embedder whose encode and encode_spans run on Ray actors (see the module docstring).

    address: see the module docstring; actors: pool size (default: the cluster's GPUs with
    device cuda, else its CPUs / cpus_per_actor); ray_batch: texts per actor call."""

    def __init__(self, name: str, *, batch_size: int = 32, backend: str | None = None, device: str = "cpu",
                 address: str | None = None, actors: int | None = None, ray_batch: int | None = None,
                 cpus_per_actor: float = 1.0):
        require_ray()
        super().__init__(name, batch_size=batch_size, backend=backend or default_backend(device),
                         device="cpu")   # tokenizer only
        Embedder(name, batch_size=batch_size, backend=self.backend, device=device)   # same checks as actors
        # an actor sees only the GPU Ray gave it: "cuda", whatever cuda:N the driver was asked for
        self.worker_device = "cuda" if device.startswith("cuda") else device
        self.actors, self.ray_batch = actors, RAY_BATCH if ray_batch is None else ray_batch
        if (actors is not None and actors < 1) or self.ray_batch < 1:
            raise RayBuildError(f"--ray-actors and --ray-batch-size must be at least 1, got {actors}, {ray_batch}")
        self.cpus_per_actor = cpus_per_actor
        self.address = address or os.environ.get("RAG_RAY_ADDRESS") or None
        if address and Path(address).expanduser().is_dir():
            raise RayBuildError(f"--ray got the folder {address!r} as its ADDRESS: "
                                "put the corpus folder before --ray (rag index DOCS --ray)")
        self._started = False

    def _connect(self):
        ray = require_ray()
        if ray.is_initialized():
            return _quiet(ray)
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        # the core worker's advice lines on stderr ("constructor arguments in the object store")
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
        env = {k: os.environ[k] for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "RAG_CACHE_DIR",
                                          "RAY_USAGE_STATS_ENABLED") if k in os.environ}
        env["TOKENIZERS_PARALLELISM"] = "false"
        runtime_env = {"py_modules": [str(Path(__file__).resolve().parent)], "env_vars": env}
        extra = {} if self.address else {"include_dashboard": False}
        try:
            ray.init(address=self.address, runtime_env=runtime_env, logging_level="ERROR",
                     log_to_driver=False, configure_logging=True, **extra)
        except Exception as exc:   # ConnectionError, ValueError, TimeoutError...
            where = f"at {self.address}" if self.address else "on this machine"
            raise RayBuildError(f"cannot start or reach a Ray cluster {where}: {type(exc).__name__}: "
                                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}; "
                                "check the address (ray status on the head node)") from None
        self._started = True
        return _quiet(ray)

    def close(self) -> None:
        """Disconnect, and shut down the cluster if this embedder started it."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def pool_size(self, ray) -> int:
        res = ray.cluster_resources()
        if self.worker_device != "cpu" and res.get("GPU", 0) < 1:
            raise RayBuildError(f"--device {self.worker_device}: the Ray cluster has no GPU (ray status "
                                "lists its resources); add GPU nodes or use --device cpu")
        if self.actors:
            return int(self.actors)
        if self.worker_device != "cpu":
            return max(1, int(res["GPU"]))
        return max(1, int(res.get("CPU", 1) // self.cpus_per_actor))

    one_call = True   # rag.build.vectors: chunks and sentences in one encode call, so one actor pool starts

    def encode(self, texts: list[str], *, progress=None, on_batch=None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._map(list(texts), None, on_batch)[0]

    def encode_spans(self, texts: list[str], spans: list[list[tuple[int, int]]], *, on_batch=None):
        if not self.token_outputs:
            return super().encode_spans(texts, spans)   # raises the same ModelError
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        return self._map(list(texts), spans, on_batch)

    def _map(self, texts, spans, on_batch):
        ray = self._connect()
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))   # similar lengths share a batch
        rows = [{"i": i, "text": texts[i], "spans": "-" if spans is None else json.dumps(spans[i])}
                for i in order]
        gpus = 1 if self.worker_device != "cpu" else 0
        ds = ray.data.from_items(rows).map_batches(
            EmbedActor, fn_constructor_kwargs=dict(name=self.name, backend=self.backend,
                                                   device=self.worker_device, batch_size=self.batch_size),
            batch_size=self.ray_batch, batch_format="numpy", compute=ray.data.ActorPoolStrategy(
                size=self.pool_size(ray)), num_cpus=self.cpus_per_actor, num_gpus=gpus)
        vecs, per, done = None, [None] * len(texts), np.zeros(len(texts), dtype=bool)
        try:
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                idx = np.asarray(batch["i"], dtype=np.int64)
                block = np.asarray(batch["vec"], dtype=np.float32)
                if vecs is None:
                    vecs = np.zeros((len(texts), block.shape[1]), dtype=np.float32)
                vecs[idx], done[idx] = block, True
                if spans is not None:
                    for i, raw in zip(idx, batch["span_vecs"]):
                        per[i] = np.frombuffer(raw, dtype=np.float32).reshape(len(spans[i]), block.shape[1]).copy()
                if on_batch:
                    on_batch(len(idx))
        except RagError:
            raise
        except Exception as exc:   # Ray wraps what an actor raised
            raise actor_error(exc) from None
        if not done.all():
            raise RayBuildError(f"the Ray build returned {int(done.sum())} of {len(texts)} vectors; "
                                "the index is unchanged")
        return vecs, (per if spans is not None else None)
