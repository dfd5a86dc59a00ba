"""Route (b) of the reader (rag.answer.reader, MiniLM span head; not in the query path since the span reader,
rag.answer.span_reader, replaced it): loading and shape checks, and its shipped weights on a hand-made passage."""
import json
import re
import shutil

import numpy as np
import pytest

from rag.answer import reader as R


def _copy_weights(tmp_path):
    folder = tmp_path / "reader"
    shutil.copytree(R.WEIGHTS_DIR, folder)
    return folder


def test_missing_weights_give_one_line_error_naming_the_command(tmp_path):
    with pytest.raises(R.ReaderError) as e:
        R.load_weights(tmp_path / "nowhere")
    assert "\n" not in str(e.value) and "bench/train_reader.py" in str(e.value) and "missing" in str(e.value)


def test_damaged_weights_give_one_line_error_naming_the_command(tmp_path):
    folder = _copy_weights(tmp_path)
    data = (folder / R.WEIGHTS_FILE).read_bytes()
    (folder / R.WEIGHTS_FILE).write_bytes(b"\xff" * 16 + data[16:200])
    with pytest.raises(R.ReaderError) as e:
        R.Reader(folder)
    assert "\n" not in str(e.value) and "bench/train_reader.py" in str(e.value) and "damaged" in str(e.value)


def test_damaged_manifest_is_refused(tmp_path):
    folder = _copy_weights(tmp_path)
    (folder / R.MANIFEST_FILE).write_text("{not json")
    with pytest.raises(R.ReaderError, match="train_reader"):
        R.load_weights(folder)


def test_shapes_are_checked_against_the_manifest(tmp_path):
    folder = _copy_weights(tmp_path)
    manifest = json.loads((folder / R.MANIFEST_FILE).read_text())
    name = sorted(manifest["shapes"])[0]
    manifest["shapes"][name] = [n + 1 for n in manifest["shapes"][name]]
    (folder / R.MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(R.ReaderError, match=re.escape(name)):
        R.load_weights(folder)


def test_weights_of_another_shape_than_the_model_are_refused(tmp_path):
    from safetensors.numpy import save_file

    folder = _copy_weights(tmp_path)
    arrays, manifest = R.load_weights(folder)
    name = next(k for k in arrays if k.startswith("head.weight"))
    arrays[name] = np.zeros((2, 7), np.float16)
    save_file(arrays, str(folder / R.WEIGHTS_FILE))
    manifest["shapes"][name] = [2, 7]
    (folder / R.MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(R.ReaderError, match="another model"):
        R.Reader(folder)


def test_shipped_weights_are_small_float16_with_a_manifest():
    arrays, manifest = R.load_weights()
    assert (R.WEIGHTS_DIR / R.WEIGHTS_FILE).stat().st_size <= 10 * 1024 * 1024
    assert all(a.dtype == np.float16 for a in arrays.values())
    assert {"data", "split", "command", "seed", "validation_paragraph_level"} <= set(manifest)


# --- the shipped reader on hand-made passages ------------------------------------------------------------

SMOKE = ("The Halden lighthouse was designed by Anna Berg, an engineer from Oslo. It was first lit on "
         "14 May 1932, after six years of work. The island it stands on had 4,300 residents in 2010.")


# The shipped reader was trained on 1,500 questions only (see rag/models/reader/manifest.json): it does not
# find these yet. Strict: the day a retrained reader finds them, these report XPASS as failures to update.
@pytest.mark.xfail(strict=True, reason="the shipped reader (1,500 training questions) reads 'no answer' here")
@pytest.mark.parametrize("question,expected", [
    ("When was the Halden lighthouse first lit?", "14 May 1932"),
    ("How many residents did the island have in 2010?", "4,300"),
    ("Who designed the Halden lighthouse?", "Anna Berg"),
])
def test_shipped_reader_finds_a_date_a_count_and_a_name(question, expected):
    (r,) = R.get().read(question, [SMOKE])
    assert expected in r.text and len(r.text) <= len(expected) + 12
    assert SMOKE[r.start:r.end] == r.text
    assert r.prob > r.null_prob


def test_reader_is_deterministic():
    a = R.get().read("Who designed the Halden lighthouse?", [SMOKE, SMOKE[:80]])
    b = R.get().read("Who designed the Halden lighthouse?", [SMOKE, SMOKE[:80]])
    assert a == b


def test_a_question_longer_than_the_window_is_cut_not_refused():
    (r,) = R.get().read("who " * 400 + "designed the lighthouse?", [SMOKE])
    assert 0.0 <= r.prob <= 1.0 and 0.0 <= r.null_prob <= 1.0


def test_the_span_reader_is_on_by_default_and_off_by_flag_or_environment(monkeypatch):
    from rag import Config
    from rag.cli import _config, parser as build_parser

    monkeypatch.delenv("RAG_READER", raising=False)
    assert Config().reader is True
    assert _config(build_parser().parse_args(["ask", "--no-reader", "q"])).reader is False
    assert _config(build_parser().parse_args(["eval", "x", "--no-reader"])).reader is False
    monkeypatch.setenv("RAG_READER", "0")
    assert Config().reader is False