"""Subprocess side of the concurrency tests (tests/test_store_concurrency.py).

    python tests/index_worker.py alternate INDEX N      # N builds alternating contents A and B (0: forever)
    python tests/index_worker.py toggle INDEX N         # N refreshes (not rebuilds) switching one document
                                                        # between its A and B text (0: forever)
    python tests/index_worker.py progressive INDEX N    # as alternate, but each build answerable first
                                                        # (lexical version, then a version per window of
                                                        # vectors: build_index(progressive=True), WINDOW 8,
                                                        # each encode call sleeping 0.05 s)
    python tests/index_worker.py slow INDEX CORPUS S    # one build of CORPUS, each encode call sleeping S s
    python tests/index_worker.py read INDEX SECONDS [STOP]  # load in a loop (until the file STOP
                                                        # exists), print a JSON summary
    python tests/index_worker.py add INDEX CORPUS PAUSE FILE...  # Rag.add_files of FILEs, printing
                                                        # "encoding", "saved" (new version current)
                                                        # and "built" (refresh returned), each
                                                        # followed by PAUSE s, then "done"
    python tests/index_worker.py add-background INDEX CORPUS PAUSE FILE...  # as add, with background=True:
                                                        # also "answered" once add_files returned
                                                        # (answerable), "done" once every vector is in
    python tests/index_worker.py add-queue INDEX CORPUS PAUSE FILE...  # as add, with queue=True (rag serve's
                                                        # way): also "queued" once add_files returned,
                                                        # "done" once it is indexed, every vector in

Uses the fake embedder of tests/conftest.py, so no model is loaded. Prints "ready"
once imported and "saved N" after each build (alternate), "encoding" when the slow
build starts embedding.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # the checkout's rag, not an installed one

from conftest import FakeEmbedder  # noqa: E402

from rag import Config  # noqa: E402
from rag.build.builder import build_index  # noqa: E402
from rag.ingest.read import Document, sha256_bytes  # noqa: E402

TOPICS = ["apples", "bridges", "comets", "deserts", "engines", "forests", "glaciers", "harbours"]


def say(text: str) -> None:
    """One marker line in one write: print writes the text and the newline apart, so two threads
    printing at once could join their markers on one line ("encodinganswered")."""
    sys.stdout.write(f"{text}\n")
    sys.stdout.flush()


def contents(tag: str) -> dict[str, str]:
    """doc id -> text; A and B share ids and differ in every text."""
    out = {}
    for n, topic in enumerate(TOPICS):
        out[f"{topic}.txt"] = " ".join(
            f"{tag}{n}{k}: The {topic} of version {tag} number {k} are described here in detail."
            for k in range(12))
    return out


def documents(tag: str) -> list[Document]:
    return [Document(i, i, t, sha256_bytes(t.encode())) for i, t in contents(tag).items()]


def config(index_dir, corpus_dir=None) -> Config:
    extra = {"corpus_dir": corpus_dir} if corpus_dir else {}
    return Config(index_dir=index_dir, model=FakeEmbedder.name, chunk_tokens=48, chunk_overlap=8, **extra)


def check(data, texts_by_sha: dict) -> str:
    """The tag (A or B) of a loaded index whose every chunk agrees with its own manifest."""
    tags = set()
    ids = [d["id"] for d in data.manifest["documents"]]
    for d in data.manifest["documents"]:
        tag, text = texts_by_sha[d["sha256"]]
        tags.add(tag)
    text_of = {d["id"]: texts_by_sha[d["sha256"]][1] for d in data.manifest["documents"]}
    for c in data.chunks:
        assert text_of[c["doc"]][c["start"]:c["end"]] == c["text"], c
    for d, a, b in data.sentences.tolist():
        assert text_of[ids[d]][a:b].strip(), (d, a, b)
    assert len(tags) == 1, f"mixed contents {tags}"
    return tags.pop()


def toggled(i: int) -> list[Document]:
    """Content A with its first document in version "AB"[i % 2]."""
    first = TOPICS[0] + ".txt"
    return [d if d.id != first else documents("AB"[i % 2])[0] for d in documents("A")]


def check_documents(data, texts_by_sha: dict) -> dict:
    """doc id -> tag of a loaded index whose every chunk and sentence agrees with its own
    manifest (documents may differ in tag)."""
    text_of = {d["id"]: texts_by_sha[d["sha256"]][1] for d in data.manifest["documents"]}
    ids = [d["id"] for d in data.manifest["documents"]]
    for c in data.chunks:
        assert text_of[c["doc"]][c["start"]:c["end"]] == c["text"], c
    for d, a, b in data.sentences.tolist():
        assert text_of[ids[d]][a:b].strip(), (d, a, b)
    assert sorted(text_of) == sorted(contents("A")) and len(data.chunks) == data.manifest["counts"]["chunks"]
    return {d["id"]: texts_by_sha[d["sha256"]][0] for d in data.manifest["documents"]}


def main(argv):
    mode, index_dir = argv[0], Path(argv[1])
    import faiss  # noqa: F401  - imported up front, so that kills after "ready" land in builds

    from rag.storage.lexical import tokenize
    tokenize("warm up")
    say("ready")
    if mode == "alternate":
        n, cfg, i = int(argv[2]), config(index_dir), 0
        while n == 0 or i < n:
            build_index(cfg, embedder=FakeEmbedder(), documents=documents("AB"[i % 2]), rebuild=True)
            i += 1
            say(f"saved {i}")
    elif mode == "progressive":
        from rag.build import builder

        class Paced(FakeEmbedder):
            def encode(self, texts, *, progress=None, on_batch=None):
                time.sleep(0.05)
                return super().encode(texts, progress=progress, on_batch=on_batch)

        builder.WINDOW = 8
        n, cfg, i = int(argv[2]), config(index_dir), 0
        while n == 0 or i < n:
            build_index(cfg, embedder=Paced(), documents=documents("AB"[i % 2]), rebuild=True,
                        progressive=True, progress=False)
            i += 1
            say(f"saved {i}")
    elif mode == "toggle":
        n, cfg, i = int(argv[2]), config(index_dir), 0
        while n == 0 or i < n:
            build_index(cfg, embedder=FakeEmbedder(), documents=toggled(i + 1))
            i += 1
            say(f"saved {i}")
    elif mode == "slow":
        pause = float(argv[3])

        class Slow(FakeEmbedder):
            def encode(self, texts, *, progress=None, on_batch=None):
                say("encoding")
                time.sleep(pause)
                return super().encode(texts, progress=progress, on_batch=on_batch)

        build_index(config(index_dir, Path(argv[2])), embedder=Slow())
        say("done")
    elif mode in ("add", "add-background", "add-queue"):
        from rag import Rag
        from rag.storage import writer as store
        import rag.build.documents as docs_module

        corpus, pause, files = Path(argv[2]), float(argv[3]), argv[4:]

        class Slow(FakeEmbedder):
            def encode(self, texts, *, progress=None, on_batch=None):
                say("encoding")
                time.sleep(pause)
                return super().encode(texts, progress=progress, on_batch=on_batch)

        def mark(fn, word):
            def wrapped(*args, **kwargs):
                out = fn(*args, **kwargs)
                say(word)
                time.sleep(pause)
                return out
            return wrapped

        store.save = mark(store.save, "saved")
        docs_module.build_index = mark(docs_module.build_index, "built")
        rag = Rag(config(index_dir, corpus), embedder=Slow())
        if mode == "add":
            rag.add_files(files)
        elif mode == "add-queue":   # returns at once, the files kept on disk until indexed
            upload = rag.add_files(files, queue=True)
            say("queued")
            time.sleep(pause)
            upload.outcome()
            rag.wait_for_vectors()
        else:   # answerable first, then the vectors in a thread
            rag.add_files(files, background=True)
            say("answered")
            rag.wait_for_vectors()
        say("done")
    elif mode == "read":
        from rag.storage import writer as store

        texts = {sha256_bytes(t.encode()): (tag, t) for tag in "AB" for t in contents(tag).values()}
        summary = {"loads": 0, "A": 0, "B": 0, "errors": []}
        deadline, stop = time.time() + float(argv[2]), Path(argv[3]) if len(argv) > 3 else None
        while time.time() < deadline and not (stop and stop.exists()):
            try:
                summary[check(store.load(index_dir), texts)] += 1
            except Exception as exc:   # noqa: BLE001 - every failure is a finding here
                summary["errors"].append(f"{type(exc).__name__}: {exc}"[:300])
            summary["loads"] += 1
        say(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1:])
