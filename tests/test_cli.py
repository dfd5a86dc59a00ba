"""The rag command as a user runs it: real subprocesses, the real bundled model."""
import json
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from conftest import SEED_DOC
from indexutil import edit_manifest, version_dir

QUESTION = "How many North Korean soldiers were sent to Russia last fall?"


def run(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_index_ask_and_refresh(cli_env, seed_corpus, tmp_path):
    r = run("index", env=cli_env)
    assert r.returncode == 0, r.stderr
    assert "indexed 1 documents" in r.stdout and "chunks" in r.stdout
    # stderr is a pipe here: plain progress lines, one per phase start and end, no bar
    for phase in ("loading model", "reading", "embedding", "writing"):   # reading includes chunking
        assert f"\n{phase}: done" in "\n" + r.stderr, r.stderr
    assert "embedding: started, 36 texts" in r.stderr and "\r" not in r.stderr   # 6 chunks, 30 sentences
    # answerable by keywords before the vectors (a partial version), then complete
    assert "answerable now (keywords only until the vectors are done): 1 documents, 6 chunks" in r.stderr
    assert r.stderr.index("answerable now") < r.stderr.index("embedding: started")
    manifest = json.loads((version_dir(Path(cli_env["RAG_INDEX"])) / "manifest.json").read_text())
    assert manifest["backend"] == "onnx" and not any(d.get("pending") for d in manifest["documents"])
    r = run("index", env=cli_env)
    assert r.returncode == 0 and r.stdout.startswith("nothing to do")
    (seed_corpus / "notes.md").write_text("# Notes\n\nThe seminar is on Tuesday at noon.\n")
    (seed_corpus / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    r = run("index", env=cli_env)
    assert r.returncode == 0, r.stderr
    assert "indexed 2 documents" in r.stdout and "added 1" in r.stdout
    assert "broken.pdf" in r.stdout and "broken.pdf" in r.stderr   # reported and warned

    r = run("ask", QUESTION, "--json", env=cli_env)
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    assert answer["found"] and "12,000" in answer["answer"]
    cite = answer["citations"][0]
    text = (seed_corpus / SEED_DOC).read_text(encoding="utf-8")
    assert cite["doc_id"] == SEED_DOC
    assert text[cite["quote_start"]:cite["quote_end"]] == cite["quote"]

    r = run("ask", "What is the capital of France?", "-k", "2", env=cli_env)
    assert r.returncode == 0
    assert "do not contain" in r.stdout and "Nearest passages" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["ask", "   "], "question is empty"),
    (["ask", QUESTION, "--index", "/nonexistent/idx"], "no index at /nonexistent/idx"),
    (["index", "/nonexistent/corpus"], "corpus folder not found"),
])
def test_errors_are_one_line(cli_env, args, message):
    r = run(*args, env=cli_env)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in r.stderr


def test_mismatched_index_names_the_rebuild_command(cli_env):
    assert run("index", env=cli_env).returncode == 0
    index = Path(cli_env["RAG_INDEX"])
    # settings belong to the index: its own (here edited) chunker settings are read, not refused
    edit_manifest(index, lambda m: m["settings"].__setitem__("chunk_tokens", m["settings"]["chunk_tokens"] + 1))
    assert run("ask", QUESTION, env=cli_env).returncode == 0
    # a conflicting setting given explicitly is refused with the command that rebuilds for it
    r = run("ask", QUESTION, "--backend", "torch", env=cli_env)
    command = shlex.join(["rag", "index", cli_env["RAG_CORPUS"], "--index", str(index), "--backend", "torch",
                          "--rebuild"])
    assert r.returncode == 1 and r.stderr.strip().endswith(command), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_serve_answers_over_http(server):
    with urllib.request.urlopen(server, timeout=5) as resp:
        page = resp.read().decode()
    assert "Ask your documents" in page


def test_chat_repl_uses_the_previous_turn(cli_env):
    r = subprocess.run([sys.executable, "-m", "rag.cli", "chat"], input=f"{QUESTION}\nand how many were killed?\n\n",
                       capture_output=True, text=True, env=cli_env, timeout=180)
    assert r.returncode == 0, r.stderr
    first, second = r.stdout.split("> ")[1:3]
    assert "12,000" in first and "[1]" in first   # led by the short answer only when the reader is confident
    assert "Read as" in second and "a third" in second


def test_version_comes_from_the_package_metadata(capsys):
    from importlib.metadata import version

    from rag import __version__, cli

    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"rag {version('rag-offline')}" == f"rag {__version__}"


def test_python_m_rag_is_the_rag_command():
    r = subprocess.run([sys.executable, "-m", "rag", "--version"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("rag ")


ASK_AND_SAY = ("import sys; from rag.cli import main; rc = main(sys.argv[1:]); "
               "print('LOADED' if 'rag.api' in sys.modules else 'REUSED'); sys.exit(rc)")


def ask_and_say(env, *args):
    """`rag ask ARGS`, then whether this process loaded the library (LOADED) or asked a server (REUSED)."""
    return subprocess.run([sys.executable, "-c", ASK_AND_SAY, "ask", *args], capture_output=True, text=True,
                          env=env, timeout=180)


def test_ask_reuses_a_running_serve_for_the_same_index(cli_env, tmp_path):
    import os
    import stat
    import time

    from conftest import free_port

    index = Path(cli_env["RAG_INDEX"])
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--api-only", "--port", str(port)],
                            env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 180
        while not (index / "serve.json").exists():
            assert proc.poll() is None and time.time() < deadline, proc.stdout.read() if proc.poll() else "timeout"
            time.sleep(0.3)
        record = json.loads((index / "serve.json").read_text())
        assert record["port"] == port and record["pid"] == proc.pid
        assert stat.S_IMODE(os.stat(index / "serve.json").st_mode) == 0o600
        while True:   # the file is written just before the port opens; a new folder's vectors fill in after
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2) as resp:
                    if json.loads(resp.read())["vectors"]["complete"]:
                        break
            except OSError:
                pass
            assert time.time() < deadline
            time.sleep(0.2)
        served = ask_and_say(cli_env, QUESTION)
        assert served.returncode == 0, served.stderr
        assert served.stdout.strip().endswith("REUSED") and "12,000" in served.stdout and "Sources:" in served.stdout
        local = ask_and_say(cli_env, QUESTION, "--local")
        assert local.returncode == 0 and local.stdout.strip().endswith("LOADED")
        assert local.stdout.replace("LOADED", "") == served.stdout.replace("REUSED", "")   # the same answer, printed alike
        as_json = ask_and_say(cli_env, QUESTION, "--json", "-k", "2")
        got = json.loads(as_json.stdout.rsplit("REUSED", 1)[0])
        assert as_json.stdout.strip().endswith("REUSED") and len(got["passages"]) == 2 and got["found"]
        bad = ask_and_say(cli_env, QUESTION, "-k", "0")   # refused before asking anyone: one line, status 1
        assert bad.returncode == 1 and bad.stderr.startswith("error: ") and len(bad.stderr.splitlines()) == 1
        other = dict(cli_env, RAG_READER="0")    # a setting the server does not share: loaded here
        assert ask_and_say(other, QUESTION).stdout.strip().endswith("LOADED")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert not (index / "serve.json").exists()   # removed on exit
    after = ask_and_say(cli_env, QUESTION)
    assert after.returncode == 0 and after.stdout.strip().endswith("LOADED") and "12,000" in after.stdout
