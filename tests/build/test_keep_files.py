"""Removing a document never deletes the person's file; uploads reach the corpus only with the
index version that holds them (rag.build.documents, rag.build.corpus_state). Python API, CLI (in process),
HTTP, and rag add killed with SIGKILL at several points. Fake embedder, generated corpora."""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag import Config, Rag

from rag.storage import writer as store
from rag.build.builder import build_index

from conftest import TESTS, FakeEmbedder

HERE = TESTS
FILES = {"apples.md": b"# Apples\n\nApples grow in orchards. Bees pollinate the blossoms.\n",
         "bridges.txt": b"Bridges span rivers. The oldest stone bridge here is from 1650.\n",
         "sub/comets.txt": b"Comets have tails of gas and dust that point away from the sun.\n"}


def make_corpus(corpus: Path) -> None:
    for name, data in FILES.items():
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        (corpus / name).write_bytes(data)


@pytest.fixture
def rag(tmp_path):
    make_corpus(tmp_path / "corpus")
    config = Config(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "idx", model=FakeEmbedder.name)
    build_index(config, embedder=FakeEmbedder(), progress=False)
    return Rag(config, embedder=FakeEmbedder())


def ids(rag):
    return sorted(d.id for d in rag.documents())


def refresh(rag):
    return build_index(rag.config, embedder=FakeEmbedder(), progress=False)


def test_remove_keeps_the_file_and_a_refresh_does_not_add_it_again(rag, tmp_path):
    corpus = tmp_path / "corpus"
    result = rag.remove_document("bridges.txt")
    assert (corpus / "bridges.txt").read_bytes() == FILES["bridges.txt"]
    assert "bridges.txt" not in ids(rag) and result.file_deleted is False
    assert "the file in your folder is kept" in result.message
    report = refresh(rag)
    assert "bridges.txt" not in report.added and "bridges.txt" not in ids(rag)
    build_index(rag.config, embedder=FakeEmbedder(), progress=False, rebuild=True)   # survives a rebuild
    assert ids(rag) == ["apples.md", "sub/comets.txt"]
    # asking to delete a file of the person's folder removes it from the index and keeps the file
    result = rag.remove_document("sub/comets.txt", delete_upload=True)
    assert result.file_deleted is False and "not an upload" in result.message
    assert (corpus / "sub" / "comets.txt").read_bytes() == FILES["sub/comets.txt"]
    assert ids(rag) == ["apples.md"]
    # giving the file's path to add_files includes it again, without a copy in uploads/
    added = rag.add_files([str(corpus / "bridges.txt")])
    assert added.added == ["bridges.txt"] and ids(rag) == ["apples.md", "bridges.txt"]
    assert not (corpus / "uploads").exists()
    refresh(rag)
    assert ids(rag) == ["apples.md", "bridges.txt"]


def test_an_upload_is_deleted_only_when_asked(rag, tmp_path):
    uploads = tmp_path / "corpus" / "uploads"
    rag.add_files([("kept.txt", b"Kites fly in strong wind.\n"), ("gone.txt", b"Engines burn fuel.\n")])
    assert rag.is_upload("uploads/kept.txt") and not rag.is_upload("apples.md")
    rag.remove_document("uploads/kept.txt")
    assert (uploads / "kept.txt").read_bytes() == b"Kites fly in strong wind.\n"
    result = rag.remove_document("uploads/gone.txt", delete_upload=True)
    assert result.file_deleted and "deleted the uploaded copy" in result.message
    assert not (uploads / "gone.txt").exists()
    refresh(rag)
    assert ids(rag) == ["apples.md", "bridges.txt", "sub/comets.txt"]
    assert sorted(p.name for p in uploads.iterdir()) == ["kept.txt"]


def test_a_file_the_person_put_in_uploads_is_never_deleted(rag, tmp_path):
    mine = tmp_path / "corpus" / "uploads" / "mine.txt"
    mine.parent.mkdir()
    mine.write_bytes(b"Glaciers carve valleys.\n")
    refresh(rag)
    assert "uploads/mine.txt" in ids(rag) and not rag.is_upload("uploads/mine.txt")
    assert rag.remove_document("uploads/mine.txt", delete_upload=True).file_deleted is False
    assert mine.read_bytes() == b"Glaciers carve valleys.\n"


def test_cli_remove_keeps_the_file(cli, rag, capsys, tmp_path):
    corpus = tmp_path / "corpus"
    assert cli(["remove", "apples.md"]) == 0
    assert "removed apples.md from the index; the file in your folder is kept" in capsys.readouterr().out
    assert cli(["remove", "--delete-upload", "bridges.txt"]) == 0
    assert "kept (it is not an upload" in capsys.readouterr().out
    assert (corpus / "apples.md").read_bytes() == FILES["apples.md"]
    assert (corpus / "bridges.txt").read_bytes() == FILES["bridges.txt"]
    assert cli(["index"]) == 0
    assert ids(rag) == ["sub/comets.txt"]
    capsys.readouterr()
    assert cli(["docs"]) == 0
    assert "2 removed from the index (files kept" in capsys.readouterr().out
    assert cli(["docs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["excluded"] == ["apples.md", "bridges.txt"]
    (tmp_path / "new.md").write_text("# Kites\n\nKites fly in strong wind.\n")
    assert cli(["add", str(tmp_path / "new.md")]) == 0
    assert cli(["remove", "--delete-upload", "uploads/new.md"]) == 0
    assert "deleted the uploaded copy" in capsys.readouterr().out
    assert not (corpus / "uploads" / "new.md").exists() and (tmp_path / "new.md").is_file()


def test_http_delete_keeps_the_file_unless_an_upload_and_asked(tmp_path):
    from apiserver import multipart, open_rag, request, serve, write_corpus

    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    rag = open_rag(corpus, tmp_path / "idx")
    first = sorted(p.name for p in corpus.iterdir())[0]
    data = (corpus / first).read_bytes()
    with serve(rag) as url:
        status, body = request(url, "DELETE", f"/api/documents/{first}?delete_file=true")[::2]
        assert status == 200 and json.loads(body) == {"removed": first, "file_deleted": False}
        assert (corpus / first).read_bytes() == data
        status = request(url, "POST", "/api/documents", *multipart([("up.txt", b"Otters hold hands.\n")]))[0]
        assert status == 200 and (corpus / "uploads" / "up.txt").is_file()
        status, body = request(url, "DELETE", "/api/documents/uploads/up.txt?delete_file=maybe")[::2]
        assert status == 400
        status, body = request(url, "DELETE", "/api/documents/uploads/up.txt?delete_file=true")[::2]
        assert status == 200 and json.loads(body)["file_deleted"] is True
        assert not (corpus / "uploads" / "up.txt").exists()
    build_index(rag.config, embedder=rag.embedder, progress=False)
    assert first not in [d.id for d in rag.documents()] and (corpus / first).read_bytes() == data


def test_the_page_says_whether_the_file_is_kept():
    from rag.build.documents import DocumentInfo
    from rag_ui import docs_tab

    doc = DocumentInfo("notes.md", "Notes", "md", 10, "2026-01-01T00:00:00+00:00", 1, None)
    mine, upload = docs_tab.row_html(doc, False), docs_tab.row_html(doc, True)
    assert "Remove notes.md from the index? The file in your folder is kept." in mine
    assert "delete the uploaded copy" not in mine
    assert "Remove notes.md from the index and delete the uploaded copy?" in upload


# ---------------------------------------------------------------- killed uploads

def corpus_files(corpus: Path) -> set[str]:
    """Every file of the corpus, hidden ones included, as "/"-joined relative paths."""
    return {p.relative_to(corpus).as_posix() for p in corpus.rglob("*") if p.is_file()}


def run_add(index_dir, corpus, pause, files, kill_on, delay, mode="add"):
    """Run tests/index_worker.py add (or add-background); kill it (SIGKILL) delay s after it prints the
    marker kill_on. Returns the markers seen and whether it was killed."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, str(HERE / "index_worker.py"), mode, str(index_dir), str(corpus),
                             str(pause), *map(str, files)], stdout=subprocess.PIPE, text=True, env=env)
    seen, killed = [], False
    try:
        for line in proc.stdout:
            seen.append(line.strip())
            if line.strip() == kill_on:
                time.sleep(delay)
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
    finally:
        proc.wait(60)
        proc.stdout.close()
    return seen, killed and proc.returncode == -signal.SIGKILL


def _indexed_with_uploads_outside(tmp_path):
    """An indexed corpus and three new files outside it: (corpus, index dir, config, document ids, corpus files,
    the outside folder, {name: bytes})."""
    sys.path.insert(0, str(HERE))
    import index_worker

    corpus, index_dir = tmp_path / "corpus", tmp_path / "idx"
    make_corpus(corpus)
    cfg = index_worker.config(index_dir, corpus)
    build_index(cfg, embedder=FakeEmbedder(), progress=False)
    before_ids = sorted(d["id"] for d in store.read_manifest(index_dir)["documents"])
    up = tmp_path / "outside"
    up.mkdir()
    new = {f"u{n}.txt": f"Upload {n}: otters number {n} hold hands while they sleep.\n".encode() for n in range(3)}
    for name, data in new.items():
        (up / name).write_bytes(data)
    return corpus, index_dir, cfg, before_ids, corpus_files(corpus), up, new


# markers: "ready" (loaded), "encoding" (uploads staged, embedding), "saved" (the new version is
# current), "built" (the refresh returned; the files are moved in after a pause of 0.3 s)
@pytest.mark.parametrize("kill_on, delay", [("ready", 0.0), ("ready", 0.2), ("encoding", 0.0), ("encoding", 0.45),
                                            ("saved", 0.0), ("built", 0.0), ("built", 0.3)])
def test_a_killed_add_leaves_no_unknown_file_in_the_corpus(tmp_path, kill_on, delay, caplog):
    corpus, index_dir, cfg, before_ids, before_files, up, new = _indexed_with_uploads_outside(tmp_path)
    seen, killed = run_add(index_dir, corpus, 0.3, [up / n for n in new], kill_on, delay)
    after_ids = sorted(d["id"] for d in store.read_manifest(index_dir)["documents"])
    wanted_after = sorted(before_ids + [f"uploads/{n}" for n in new])
    assert after_ids in (before_ids, wanted_after), (seen, after_ids)
    unknown = corpus_files(corpus) - before_files - set(after_ids)
    assert unknown == set(), (seen, unknown)
    # the next writer finishes or cleans what was staged, naming the file
    with caplog.at_level(logging.WARNING, logger="rag"):
        build_index(cfg, embedder=FakeEmbedder(), progress=False)
    final_ids = sorted(d["id"] for d in store.read_manifest(index_dir)["documents"])
    assert final_ids == after_ids
    assert corpus_files(corpus) - before_files == {i for i in after_ids if i.startswith("uploads/")}
    for i in final_ids:
        if i.startswith("uploads/"):
            assert (corpus / i).read_bytes() == new[i.split("/")[1]]
    staging = index_dir / "staging"
    assert not staging.exists() or list(staging.iterdir()) == []
    if killed and "saved" not in seen and "encoding" in seen:   # staged, never indexed: reported by name
        assert "uploads/u0.txt: an interrupted upload was never indexed" in caplog.text
    print(f"KILL kill_on={kill_on} delay={delay} killed={killed} markers={seen} "
          f"index={'after' if after_ids == wanted_after else 'before'}")


# markers of add-background: "encoding" is the vectors being computed after "answered" (add_files returned,
# answerable by keywords, the uploads in the corpus); each encode call and save pauses 0.3 s
@pytest.mark.parametrize("kill_on, delay", [("ready", 0.2), ("saved", 0.0), ("answered", 0.0), ("encoding", 0.45)])
def test_a_server_killed_while_an_upload_answers_first_leaves_a_whole_index_the_next_writer_completes(
        tmp_path, kill_on, delay):
    corpus, index_dir, cfg, before_ids, before_files, up, new = _indexed_with_uploads_outside(tmp_path)
    seen, killed = run_add(index_dir, corpus, 0.3, [up / n for n in new], kill_on, delay, mode="add-background")
    assert killed and "done" not in seen, seen
    manifest = store.read_manifest(index_dir)
    after_ids = sorted(d["id"] for d in manifest["documents"])
    wanted_after = sorted(before_ids + [f"uploads/{n}" for n in new])
    assert after_ids in (before_ids, wanted_after), (seen, after_ids)
    if "answered" in seen:   # answerable: the uploads are in the index (pending) and in the corpus
        assert after_ids == wanted_after
        assert all(d.get("pending") for d in manifest["documents"] if d["id"].startswith("uploads/"))
    assert corpus_files(corpus) - before_files - set(after_ids) == set(), seen
    build_index(cfg, embedder=FakeEmbedder(), progress=False)   # the next writer completes or cleans up
    manifest = store.read_manifest(index_dir)
    assert sorted(d["id"] for d in manifest["documents"]) == after_ids
    assert not any(d.get("pending") for d in manifest["documents"])
    assert corpus_files(corpus) - before_files == {i for i in after_ids if i.startswith("uploads/")}
    staging = index_dir / "staging"
    assert not staging.exists() or list(staging.iterdir()) == []


# markers of add-queue: "queued" (add_files(queue=True) returned: the upload was accepted), then as add-background
@pytest.mark.parametrize("kill_on, delay", [("queued", 0.0), ("encoding", 0.0), ("saved", 0.0), ("saved", 0.45),
                                            ("built", 0.0)])
def test_uploads_a_killed_server_had_queued_are_indexed_once_by_the_next_one(tmp_path, kill_on, delay):
    """Nothing accepted into the upload queue is lost: whenever the server is killed after add_files(queue=True)
    returned, the next server (Rag.resume_uploads, as rag serve starts) indexes every upload, each once, and the
    queued copies are gone."""
    corpus, index_dir, cfg, before_ids, before_files, up, new = _indexed_with_uploads_outside(tmp_path)
    seen, killed = run_add(index_dir, corpus, 0.3, [up / n for n in new], kill_on, delay, mode="add-queue")
    assert killed and "queued" in seen and "done" not in seen, seen
    wanted_ids = sorted(before_ids + [f"uploads/{n}" for n in new])
    kept = [p for p in (index_dir / "queued").iterdir() if not p.name.startswith(".done-")]   # not half deleted
    if not kept:   # only once it had its outcome: added, in the index and in the corpus (its vectors may be pending)
        assert sorted(d["id"] for d in store.read_manifest(index_dir)["documents"]) == wanted_ids, seen
        assert corpus_files(corpus) - before_files == {f"uploads/{n}" for n in new}, seen
    rag = Rag(cfg, embedder=FakeEmbedder())
    resumed = rag.resume_uploads()
    assert [u.names for u in resumed] == ([sorted(new)] if kept else [])
    assert all(u.outcome().skipped == [] for u in resumed)
    rag.refresh()   # the next writer: computes what is pending
    assert rag.wait_for_vectors(60)
    manifest = store.read_manifest(index_dir)
    assert sorted(d["id"] for d in manifest["documents"]) == wanted_ids
    assert not any(d.get("pending") for d in manifest["documents"])
    assert corpus_files(corpus) - before_files == {f"uploads/{n}" for n in new}   # each once: no "u0 (2).txt"
    for n, data in new.items():
        assert (corpus / "uploads" / n).read_bytes() == data
    assert list((index_dir / "queued").iterdir()) == [] and rag.resume_uploads() == []
    staging = index_dir / "staging"
    assert not staging.exists() or list(staging.iterdir()) == []


def test_cli_index_says_which_uploads_wait_in_the_queue_folder(cli, rag, capsys):
    """`rag index` does not index what a server queued (the server, or the next `rag serve`, does), but says so."""
    from rag.build import corpus_state

    assert cli(["index"]) == 0
    assert "uploaded through `rag serve`" not in capsys.readouterr().out   # none waiting: nothing said
    corpus_state.queue_save(rag.config.index_dir, [("kites.md", b"# Kites\n\nKites fly in strong wind.\n")], [])
    assert cli(["index"]) == 0
    out = capsys.readouterr().out
    assert (f"1 file(s) uploaded through `rag serve` wait in {rag.config.index_dir / 'queued'} to be indexed "
            "(kites.md): a running server indexes them in turn; if none runs, `rag serve` does when it starts") in out
