"""A running Rag sees completed index updates on its next question, never a mix, and a
question in flight finishes on the data it started with."""
import threading
import pytest

from rag import Rag
from rag.build.builder import build_index

import index_worker as worker
from conftest import FakeEmbedder
from test_store_concurrency import spawn, wait_for

VOLCANO = "Volcanoes erupt molten lava. Magma chambers feed volcanoes from below the crust.\n"


def tags(answer):
    """The content versions ("A" or "B") the answer's passages come from."""
    return {("A" if "of version A" in p.text else "B") for p in answer.passages}


@pytest.fixture
def built(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in worker.contents("A").items():
        (corpus / name).write_text(text, encoding="utf-8")
    config = worker.config(tmp_path / "idx", corpus)
    build_index(config, embedder=FakeEmbedder(), progress=False)
    return config


def test_next_question_sees_a_completed_refresh(built):
    rag = Rag.open(built.index_dir, embedder=FakeEmbedder())
    assert "volcanoes.txt" not in {p.doc_id for p in rag.query("volcanoes lava magma").passages}
    loads = rag.live.loads
    rag.query("apples")
    assert rag.live.loads == loads   # nothing changed: no reload
    (built.corpus_dir / "volcanoes.txt").write_text(VOLCANO, encoding="utf-8")
    build_index(built, embedder=FakeEmbedder(), progress=False)
    answer = rag.query("volcanoes lava magma")
    assert answer.passages[0].doc_id == "volcanoes.txt" and rag.live.loads == loads + 1
    assert rag.status["documents"] == 9
    (built.corpus_dir / "volcanoes.txt").unlink()
    build_index(built, embedder=FakeEmbedder(), progress=False)
    assert "volcanoes.txt" not in {p.doc_id for p in rag.query("volcanoes lava magma").passages}


def test_a_question_in_flight_finishes_on_the_old_data(built):
    started, release = threading.Event(), threading.Event()

    class Blocking(FakeEmbedder):
        def encode(self, texts, *, progress=None, on_batch=None):
            if texts == ["harbours apples comets"]:
                started.set()
                assert release.wait(30)
            return super().encode(texts, progress=progress, on_batch=on_batch)

    rag = Rag.open(built.index_dir, embedder=Blocking())
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("answer", rag.query("harbours apples comets")))
    t.start()
    assert started.wait(30)
    build_index(built, embedder=FakeEmbedder(), documents=worker.documents("B"), progress=False)
    release.set()
    t.join(30)
    assert tags(result["answer"]) == {"A"}   # began before the swap: all from the old version
    assert tags(rag.query("harbours apples comets")) == {"B"}


def test_questions_during_refreshes_by_another_process_see_whole_versions(built, tmp_path):
    rag = Rag.open(built.index_dir, embedder=FakeEmbedder())
    texts = {tag: worker.contents(tag) for tag in "AB"}
    seen, errors, stop = {"A": 0, "B": 0}, [], threading.Event()
    questions = ["apples bridges", "comets deserts engines", "forests glaciers harbours", "version number"]

    def ask(n):
        while not stop.is_set():
            try:
                answer = rag.query(questions[n % len(questions)], k=8)
                tag = tags(answer)
                assert len(tag) == 1, f"mixed versions in one answer: {tag}"
                tag = tag.pop()
                for p in answer.passages:   # every passage is the whole version's text
                    assert texts[tag][p.doc_id][p.start:p.end] == p.text
                seen[tag] += 1
            except Exception as exc:   # noqa: BLE001 - every failure is a finding here
                errors.append(f"{type(exc).__name__}: {exc}")
            n += 1

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    writer = spawn("alternate", built.index_dir, 20)   # builds B, A, B, ... (20 full versions)
    try:
        wait_for(writer, "saved 20", timeout=120)
        assert writer.wait(timeout=30) == 0, writer.stderr.read()
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        if writer.poll() is None:
            writer.kill()
    print(f"answers: {seen}, reloads: {rag.live.loads}")
    assert errors == [], errors[:3]
    assert seen["A"] > 0 and seen["B"] > 0 and rag.live.loads > 2
    # the writer's builds are A, B, A, ... ("AB"[i % 2]): the 20th, complete now, is B
    assert tags(rag.query("apples bridges", k=8)) == {"B"}
