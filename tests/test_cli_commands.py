"""The `rag` command in-process over a small index and the fake embedder: `rag users` (add, list,
remove, with the password from stdin or asked twice), `rag chat`'s commands (/new, /sources, /help,
/quit; "clear" is a question), `rag add`'s progress (one start and one end line per phase, counts that
only grow), and the "no index" hint naming the user's folder."""
import io
import re

import pytest

from conftest import FakeEmbedder
from rag import Config, Rag
from rag.build.builder import build_index
from rag.users import Users


@pytest.fixture
def rag(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "quillmarsh.txt").write_text(
        "The Quillmarsh observatory\n\nOrlanth Veyne founded the Quillmarsh observatory in 1803. Orlanth Veyne "
        "was born in the mountain town of Dravik. The observatory catalogued comets for many decades.\n")
    (corpus / "ennisfall.txt").write_text(
        "The Ennisfall observatory\n\nMaribel Quorst founded the Ennisfall observatory in 1811. Maribel Quorst "
        "was born in the river town of Toravo. Its telescope was the largest in the valley.\n")
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "idx", model=FakeEmbedder.name)
    build_index(config, embedder=FakeEmbedder(), progress=False)
    return Rag(config, embedder=FakeEmbedder())


# ---- rag users --------------------------------------------------------------------------------------

def test_users_add_list_remove_from_stdin(cli, rag, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("ann-password-1\n"))
    assert cli(["users", "add", "ann", "--password-stdin"]) == 0
    out = capsys.readouterr().out
    assert "added ann" in out and "sign in" in out
    users = Users(rag.config.index_dir / "users.json")
    assert users.check("ann", "ann-password-1")
    assert cli(["users", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == ["  ann"]
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli(["users", "add", "bob", "--password-stdin"]) == 1
    assert "at least 8" in capsys.readouterr().err and users.names() == ["ann"]
    assert cli(["users", "remove", "ann"]) == 0 and users.names() == []
    assert cli(["users", "remove", "ann"]) == 1 and "no user 'ann'" in capsys.readouterr().err


def test_users_add_asks_twice_without_echo(cli, rag, capsys, monkeypatch, tmp_path):
    answers = iter(["bob-password-1", "bob-password-1", "one-password", "another-one"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    path = tmp_path / "elsewhere" / "accounts.json"
    assert cli(["users", "add", "bob", "--users", str(path)]) == 0
    assert Users(path).check("bob", "bob-password-1")
    assert cli(["users", "add", "bob", "--users", str(path)]) == 1   # the two entries differ
    assert "differ" in capsys.readouterr().err and Users(path).check("bob", "bob-password-1")
    assert cli(["users", "add", "no way", "--users", str(path)]) == 1   # refused before any prompt
    assert "not allowed" in capsys.readouterr().err


# ---- rag chat ---------------------------------------------------------------------------------------

def chat(cli, monkeypatch, capsys, lines):
    feed = iter(lines)

    def fake_input(prompt=""):
        print(prompt, end="")
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None
    monkeypatch.setattr("builtins.input", fake_input)
    assert cli(["chat"]) == 0
    return capsys.readouterr().out


def test_chat_commands(cli, monkeypatch, capsys):
    from rag.cli import chat_command

    assert [chat_command(x) for x in ("/new", "/SOURCES", "/help", "/quit", "/exit", "/what", "clear", "//x")] == [
        "new", "sources", "help", "quit", "quit", "?", None, None]
    out = chat(cli, monkeypatch, capsys, ["/sources", "/help", "Who founded the Quillmarsh observatory?",
                                          "/sources", "/new", "clear", "/bogus", "/quit", "never asked"])
    turns = out.split("> ")
    assert "No answer yet" in turns[1]
    assert all(c in turns[2] for c in ("/new", "/sources", "/help", "/quit"))
    assert "1803" in turns[3] and "quillmarsh.txt" in turns[3]
    assert "quillmarsh.txt" in turns[4] and "Who founded" not in turns[4] and "1803" not in turns[4].split(
        "Sources:")[0]   # the sources again, not the answer
    assert "New conversation" in turns[5]
    assert "Nearest passages" in turns[6] or "Sources" in turns[6]   # "clear" was asked as a question
    assert "unknown command '/bogus'" in turns[7] and "/sources" in turns[7]
    assert len(turns) == 9 and "never asked" not in out          # /quit ended it


def test_chat_new_forgets_the_previous_turn(cli, monkeypatch, capsys):
    out = chat(cli, monkeypatch, capsys, ["Who founded the Ennisfall observatory?", "where was she born?",
                                          "/new", "where was she born?"])
    turns = out.split("> ")
    assert "Read as" in turns[2]            # a follow-up of the first question
    assert "Read as" not in turns[4]        # after /new: read on its own


# ---- rag add ----------------------------------------------------------------------------------------

def test_add_prints_one_consistent_line_per_phase(cli, capsys, tmp_path):
    for i in range(5):
        (tmp_path / f"note{i}.md").write_text(f"# Note {i}\n\nThe meeting number {i} is on Tuesday at noon.\n")
    assert cli(["add", *[str(tmp_path / f"note{i}.md") for i in range(5)]]) == 0
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    phases = [line.split(":")[0] for line in lines]
    for name in dict.fromkeys(phases):   # each phase: one start line, one end line
        mine = [line for line in lines if line.startswith(name + ":")]
        assert mine[0].startswith(f"{name}: started") and mine[-1].startswith(f"{name}: done"), err
        assert len([m for m in mine if ": started" in m]) == 1 and len([m for m in mine if ": done" in m]) == 1, err
        done = re.search(r"done, (\d+)/(\d+)", mine[-1])
        if done:
            assert done.group(1) == done.group(2), err   # ends with its whole count
    assert "embedding" in phases, err


def test_progress_report_keeps_one_phase_and_absolute_counts():
    from rag.build.progress import Progress
    from rag.cli import PhaseReport

    stream = io.StringIO()
    bar = Progress(stream, tty=False, every=0)
    report = PhaseReport(bar)
    for phase, done, total in [("reading", 0, 5), ("reading", 2, 5), ("reading", 5, 5), ("embedding", 0, 5),
                               ("embedding", 0, 5), ("embedding", 2, 5), ("embedding", 5, 5)]:
        report(phase, done, total)
    bar.end()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "reading: started, 5" and lines[3].startswith("reading: done, 5/5")
    assert [x for x in lines if x.startswith("embedding")][0] == "embedding: started, 5"
    assert lines[-1].startswith("embedding: done, 5/5")
    assert not any("done, 0/" in x for x in lines)


# ---- hints ------------------------------------------------------------------------------------------

def test_the_no_index_hint_names_the_users_folder(cli, capsys, monkeypatch, tmp_path):
    from rag.config import CHECKOUT

    monkeypatch.delenv("RAG_CORPUS")
    monkeypatch.chdir(tmp_path)
    assert cli(["ask", "Who founded it?", "--index", str(tmp_path / "nothing"), "--local"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: no index at {tmp_path / 'nothing'}: build one with: rag index {tmp_path} ")
    assert cli(["docs", "--index", str(tmp_path / "nothing")]) == 1   # every command says the same
    assert f"build one with: rag index {tmp_path} " in capsys.readouterr().err
    if CHECKOUT:
        assert str(CHECKOUT / "seeds") not in err
        monkeypatch.chdir(CHECKOUT)   # inside this project: a placeholder, never its seeds
        assert cli(["ask", "Who founded it?", "--index", str(tmp_path / "nothing"), "--local"]) == 1
        err = capsys.readouterr().err
        assert "rag index YOUR_FOLDER --index" in err and "seeds" not in err
