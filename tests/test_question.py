"""Bad questions, k and modes: one-line QuestionError in Python, `error:` line in the CLI, never a traceback."""
import math
import subprocess
import sys

import numpy as np
import pytest

from conftest import SEEDS, FakeEmbedder
from rag import Config, Rag, query
from rag.errors import QuestionError
from rag.question import MAX_K, check

QUESTION = "How many North Korean soldiers were sent to Russia last fall?"

BAD = [   # (question, k, mode, words the one-line message must contain)
    (None, None, None, "must be text (str), got NoneType"),
    (42, None, None, "must be text (str), got int"),
    (b"how many soldiers?", None, None, "got bytes"),
    (["how", "many"], None, None, "got list"),
    ("", None, None, "empty"),
    ("  \t\n ", None, None, "empty"),
    ("how many \ud800 soldiers?", None, None, "lone surrogate U+D800"),
    ("\udcff\udcfe?", None, None, "undecodable byte 0xFF"),      # invalid UTF-8 via surrogateescape
    (QUESTION, "5", None, "k must be a whole number (int) of passages, got str"),
    (QUESTION, 2.5, None, "got float 2.5"),
    (QUESTION, 5.0, None, "got float 5.0"),
    (QUESTION, math.nan, None, "got float nan"),
    (QUESTION, True, None, "got bool True"),
    (QUESTION, [5], None, "got list"),
    (QUESTION, 0, None, "k must be at least 1, got 0"),
    (QUESTION, -3, None, "k must be at least 1, got -3"),
    (QUESTION, MAX_K + 1, None, f"k must be at most {MAX_K}"),
    (QUESTION, 10**12, None, f"k must be at most {MAX_K}"),
    (QUESTION, None, "magic", "unknown retrieval mode 'magic'"),
    (QUESTION, None, "", "unknown retrieval mode ''"),
    (QUESTION, None, "Hybrid", "unknown retrieval mode 'Hybrid'"),
    (QUESTION, None, 3, "retrieval mode must be a str"),
    (QUESTION, None, ["bm25"], "retrieval mode must be a str"),
    (QUESTION, None, "x\n" * 100, "unknown retrieval mode"),
]


@pytest.fixture(scope="module")
def fake_rag(tmp_path_factory):
    from rag.build.builder import build_index

    embedder = FakeEmbedder()
    index_dir = tmp_path_factory.mktemp("q") / "index"
    config = Config(corpus_dir=SEEDS, index_dir=index_dir, model=embedder.name)
    build_index(config, embedder=embedder)
    return Rag(config, embedder=embedder)


@pytest.mark.parametrize("question, k, mode, message", BAD)
def test_bad_input_is_a_one_line_question_error(fake_rag, question, k, mode, message):
    embedded = len(fake_rag.embedder.encoded)
    with pytest.raises(QuestionError) as err:
        fake_rag.query(question, k=k, mode=mode)
    text = str(err.value)
    assert message in text
    assert "\n" not in text and len(text) < 300
    assert len(fake_rag.embedder.encoded) == embedded, "checked before the model is called"


@pytest.mark.parametrize("question, k, mode, message", BAD[::3])
def test_module_query_checks_before_loading_an_index(tmp_path, question, k, mode, message):
    with pytest.raises(QuestionError, match="^[^\n]*$") as err:
        query(question, k=k, mode=mode, config=Config(index_dir=tmp_path / "no-such-index"))
    assert message in str(err.value)


def test_good_edges_are_accepted(fake_rag):
    assert len(fake_rag.query(QUESTION, k=np.int64(2)).passages) == 2
    assert len(fake_rag.query(QUESTION, k=1, mode="bm25").passages) == 1
    fake_rag.query(QUESTION, k=MAX_K)
    q = check("  what   is\tit? ", None, None, config=Config())
    assert (q.text, q.k, q.mode, q.notice) == ("what is it?", 5, "hybrid", None)


def test_over_long_question_is_cut_with_a_notice(fake_rag):
    answer = fake_rag.query("soldiers " * 2000)
    assert len(answer.question) <= fake_rag.config.max_question_chars
    assert "cut to its first" in answer.notice


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, env=env, timeout=120)


@pytest.mark.parametrize("argv, message", [
    ([b"ask", b"\xff\xfe?"], b"undecodable byte 0xFF"),
    ([b"ask", b"how many \xc3( soldiers?"], b"lone surrogate"),
    ([b"ask", QUESTION.encode(), b"-k", b"0"], b"k must be at least 1"),
    ([b"ask", QUESTION.encode(), b"-k", b"1000"], b"k must be at most"),
])
def test_cli_bad_question_is_one_error_line(cli_env, argv, message):
    r = run_cli(*argv, env=cli_env)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(b"error: ") and message in lines[0], r.stderr
    assert b"unexpected" not in r.stderr and b"Traceback" not in r.stderr
