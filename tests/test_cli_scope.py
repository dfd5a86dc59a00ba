"""`rag ask --in PATH --type EXT` and `rag chat --in`, in-process over a fake-embedder index: the answer comes
from the scoped files, paths are read as the person typed them, and a bad or empty scope is one line."""
import json

import pytest

from rag.answer.base import NOT_FOUND_SCOPED

from scopecorpus import QUESTION, scope_rag


@pytest.fixture
def rag(tmp_path):
    return scope_rag(tmp_path)


def ask(cli, capsys, *flags):
    code = cli(["ask", QUESTION, "--json", *flags])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if code == 0 else out.err)


def test_ask_in_a_folder_answers_from_it(cli, rag, capsys, tmp_path, monkeypatch):
    code, whole = ask(cli, capsys)
    assert code == 0 and whole["short_answer"] == "1803" and whole["short_doc"] == "old/report.txt"
    code, got = ask(cli, capsys, "--in", "new")   # relative to the indexed folder
    assert code == 0 and got["short_answer"] == "1811" and {p["doc_id"] for p in got["passages"]} <= {
        "new/survey.md", "new/notes.md"}
    assert got["notice"] == "Searched 2 of 3 documents (folder new)."
    code, got = ask(cli, capsys, "--in", str(tmp_path / "corpus" / "new" / "survey.md"))   # an absolute file path
    assert code == 0 and {p["doc_id"] for p in got["passages"]} == {"new/survey.md"}
    monkeypatch.chdir(tmp_path / "corpus" / "old")   # relative to the current folder, where it exists
    code, got = ask(cli, capsys, "--in", ".", "--in", "../new/notes.md")
    assert code == 0 and {p["doc_id"] for p in got["passages"]} == {"old/report.txt", "new/notes.md"}
    assert got["short_answer"] == "1803"


def test_ask_by_type(cli, rag, capsys):
    code, got = ask(cli, capsys, "--type", "md")
    assert code == 0 and got["short_answer"] == "1811" and got["notice"].endswith("(type md).")
    code, got = ask(cli, capsys, "--type", ".TXT", "--type", "pdf")
    assert code == 0 and {p["doc_id"] for p in got["passages"]} == {"old/report.txt"}
    assert cli(["ask", QUESTION, "--in", "new/notes.md"]) == 0
    out = capsys.readouterr().out
    assert NOT_FOUND_SCOPED in out and "note: Searched 1 of 3 documents (folder new/notes.md)." in out


def test_a_bad_or_empty_scope_is_one_line(cli, rag, capsys, tmp_path):
    code, err = ask(cli, capsys, "--type", "pdf")
    assert code == 1 and err == ("error: no indexed document is in the scope (type pdf): 3 documents are "
                                 "indexed; `rag docs` lists them\n")
    code, err = ask(cli, capsys, "--in", str(tmp_path))
    assert code == 1 and err.startswith(f"error: --in {tmp_path}: not inside the indexed folder") and err.count("\n") == 1
    code, err = ask(cli, capsys, "--type", "p/f")
    assert code == 1 and err == "error: scope type 'p/f' is not a file type: give an extension such as 'pdf'\n"


def test_chat_keeps_its_scope_for_every_question(cli, rag, capsys, monkeypatch):
    lines = iter([QUESTION, "and who founded it?", ""])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    assert cli(["chat", "--in", "new"]) == 0
    out = capsys.readouterr().out
    assert "Answering only from: folder new." in out and "1811" in out and "1803" not in out
    assert "old/report.txt" not in out
