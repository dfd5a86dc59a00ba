"""Progress display: phases in logs and terminals, and the skipped-files summary."""
import io
import logging

from rag.build.builder import build_index
from rag.cli import skipped_summary
from rag.config import Config
from rag.ingest.read import Skipped
from rag.build.progress import LogHandler, Progress


def write(root, files):
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_build_progress_in_logs_names_every_phase(tmp_path, fake_embedder):
    corpus = write(tmp_path, {"a.txt": "Ants carry leaves. Colonies are big.", "b.txt": "Bees make honey.",
                              "c.bin": "\x00\x01\x02"})
    out = io.StringIO()   # not a tty: plain lines
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "idx", model=fake_embedder.name)
    build_index(config, embedder=fake_embedder, progress=Progress(out))
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and "\033" not in out.getvalue()
    for phase, count in (("reading", "3/3 files"), ("embedding", "5/5 texts")):   # reading includes chunking
        assert f"{phase}: started" in "\n".join(lines)
        assert any(ln.startswith(f"{phase}: done, {count} in ") for ln in lines), lines
    assert any(ln.startswith("writing: done in ") for ln in lines)
    order = [ln.split(":")[0] for ln in lines if ": done" in ln]
    assert order == ["loading model", "reading", "embedding", "writing"]


def test_log_lines_while_a_phase_runs_report_counts_and_eta():
    out = io.StringIO()
    p = Progress(out, every=0.0)   # a line for every step
    p.phase("embedding", 4, "chunks")
    p.advance(1)
    p.advance(1)
    p.end()
    lines = out.getvalue().splitlines()
    assert lines[0] == "embedding: started, 4 chunks"
    assert lines[1].startswith("embedding: 1/4 chunks (25%), ") and "ETA" in lines[1]
    assert lines[2].startswith("embedding: 2/4 chunks (50%), ")
    assert lines[-1].startswith("embedding: done, 2/4 chunks in ")


def test_terminal_bar_redraws_in_place_and_warnings_get_their_own_line():
    out = io.StringIO()
    p = Progress(out, tty=True)
    p.phase("embedding", 10, "chunks")
    handler = LogHandler(out)
    log = logging.getLogger("test-progress")
    log.addHandler(handler)
    try:
        p._last = -1e9   # draw on the next step
        p.advance(5)
        log.warning("a.txt: skipped: binary")
    finally:
        log.removeHandler(handler)
    p.end()
    text = out.getvalue()
    assert "\rembedding  [############............]  5/10 chunks  50%" in text.replace("\033[K", "")
    assert "\r\033[Ka.txt: skipped: binary\n" in text   # the bar was cleared first
    assert text.endswith("\r\033[Kembedding: done, 5/10 chunks in 0s\n")


def test_skipped_summary_lists_few_and_counts_many():
    few = [Skipped(f"f{i}.bin", "binary (NUL bytes)") for i in range(3)]
    assert skipped_summary(few) == ["skipped 3 files:"] + [f"  f{i}.bin: binary (NUL bytes)" for i in range(3)]
    many = ([Skipped(f"b{i:02}.bin", "binary (NUL bytes)") for i in range(30)]
            + [Skipped(f"big{i}.txt", f"too large ({21 + i} MB > 20 MB)") for i in range(4)]
            + [Skipped("x.doc", "unsupported type .doc")])
    lines = skipped_summary(many)
    assert lines[:4] == ["skipped 35 files:", "  30 binary", "  4 too large", "  1 unsupported type .doc"]
    assert lines[4] == "first 5:" and len(lines) == 10 and lines[5] == "  b00.bin: binary (NUL bytes)"
    assert skipped_summary([]) == []
