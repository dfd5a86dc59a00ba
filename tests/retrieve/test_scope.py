"""Scoped questions (rag.retrieve.scope): the checks on a scope, which documents it admits, and that the
retriever searches inside it (dense with a FAISS ID selector, BM25 with a weight mask) rather than
filtering the overall top k, checked against rankings computed independently."""

import numpy as np
import pytest

from rag import Config, Scope
from rag.answer.base import NOT_FOUND, NOT_FOUND_SCOPED
from rag.build.builder import build_index
from rag.errors import QuestionError
from rag.ingest.read import Document, sha256_bytes
from rag.retrieve.retriever import Retriever
from rag.storage import dense
from rag.storage.lexical import BM25
from rag.storage.writer import load

from scopecorpus import QUESTION, scope_rag


# --- the value ----------------------------------------------------------------------------------

def test_scope_normalises_its_values():
    s = Scope(folders=("./reports/", "a\\b"), types=(".PDF", "md", "pdf"), documents=("x.txt",))
    assert s.folders == ("reports", "a/b") and s.types == ("pdf", "md") and s.documents == ("x.txt",)
    assert Scope.of({"folders": "reports"}) == Scope(folders=("reports",))   # one string is one value
    assert Scope.of(None) is None and Scope.of({}) is None and Scope.of(Scope(folders=(".",))) is None
    assert Scope.of(s) is s and Scope.of(s.to_dict()) == s


@pytest.mark.parametrize("value, message", [
    ("reports", r"where must be a Scope or a dict .* got str 'reports'"),
    ({"folder": ["a"]}, r"unknown scope key 'folder': use folders, types, documents"),
    ({"types": [3]}, r"scope types must hold strings, got int 3"),
    ({"types": 7}, r"scope types must be a list of strings, got int 7"),
    ({"types": ["p df"]}, r"scope type 'p df' is not a file type"),
    ({"folders": ["/etc"]}, r"scope folder '/etc' must be relative"),
    ({"folders": ["a/../.."]}, r"scope folder 'a/../..' must stay inside"),
    ({"documents": [""]}, r"scope documents must be document ids"),
])
def test_a_bad_scope_is_one_line_naming_the_value(value, message):
    with pytest.raises(QuestionError, match=message) as e:
        Scope.of(value)
    assert "\n" not in str(e.value)


def test_which_documents_a_scope_admits():
    s = Scope(folders=("reports",))
    assert s.admits("reports/a.pdf") and s.admits("reports/2024/b.docx")
    assert not s.admits("reports-old/a.pdf") and not s.admits("a.pdf")
    assert Scope(folders=("reports/a.pdf",)).admits("reports/a.pdf")   # a file's own path
    assert Scope(types=("pdf",)).admits("x/Y.PDF") and not Scope(types=("pdf",)).admits("y.md")
    assert Scope(types=("md",)).admits("notes", kind="md")   # the manifest's kind wins over the name
    both = Scope(folders=("reports",), types=("pdf",))   # where, then which types of those
    assert both.admits("reports/a.pdf") and not both.admits("reports/a.md") and not both.admits("b/a.pdf")
    assert Scope(documents=("a.md", "b.md")).admits("b.md") and not Scope(documents=("a.md",)).admits("b.md")
    places = Scope(folders=("reports",), documents=("memo.md",))   # folders and picked documents add up
    assert places.admits("reports/a.pdf") and places.admits("memo.md") and not places.admits("other.md")
    pdfs = Scope(folders=("reports",), documents=("memo.md", "scan.pdf"), types=("pdf",))
    assert pdfs.admits("reports/a.pdf") and pdfs.admits("scan.pdf") and not pdfs.admits("memo.md")


# --- retrieval inside the scope ---------------------------------------------------------------------

NEAR = "Honey bees make honey in the hive and honey is sweet honey."
FAR = {   # far/: ten BM25 terms each, fewer of the question's than near/ has
    "far/one.txt": "Rivers flow to the sea. Salmon swim past a hive near the river bank.",      # hive
    "far/two.txt": "Rivers flow to the sea. Salmon swim past bees near the river hive.",        # bee, hive
    "far/three.txt": "Rivers flow to the sea. Salmon swim past honey bees near a hive.",        # honey, bee, hive
}


@pytest.fixture
def many(tmp_path, fake_embedder):
    """30 documents about honey bees (near/) and three about rivers (far/), one chunk each."""
    texts = {f"near/n{i:02d}.txt": f"{NEAR} Note {i}." for i in range(30)} | FAR
    docs = [Document(k, k, v, sha256_bytes(v.encode())) for k, v in texts.items()]
    config = Config(index_dir=tmp_path / "idx", model=fake_embedder.name)
    build_index(config, embedder=fake_embedder, documents=docs, progress=False)
    return load(config.index_dir, config.index_settings())


def _independent_dense(data, fake_embedder, question, ids):
    """Cosine of the question and each document's text (vectors as stored: float16), best first."""
    q = fake_embedder.encode([question])[0]
    texts = {c["doc"]: c["text"] for c in data.chunks}
    cos = {d: float(fake_embedder.encode([texts[d]])[0].astype(np.float16).astype(np.float32) @ q) for d in ids}
    return sorted(ids, key=lambda d: -cos[d])


@pytest.mark.parametrize("depth, exact", [(2, 0), (100, 1024)])   # the FAISS selector; every scoped row scored
@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid", "rrf"])
def test_top_k_inside_the_scope_is_complete_where_it_ranks_below_k_overall(many, fake_embedder, depth, exact, mode):
    question = "honey bees in the hive"
    r = Retriever(many, weights=(1.0, 0.4, 0.6, 0.5), depth=depth)
    r.exact_scope_rows = exact
    unscoped = r.search(question, fake_embedder.encode([question])[0], 3, mode=mode, depth=depth)
    assert all(p.doc_id.startswith("near/") for p in unscoped)   # far/ ranks below the top k overall
    got = r.search(question, fake_embedder.encode([question])[0], 3, mode=mode, scope=Scope(folders=("far",)))
    assert sorted(p.doc_id for p in got) == sorted(FAR)   # all three, though a post-filter would find none
    assert [p.rank for p in got] == [1, 2, 3]
    if mode == "dense":
        assert [p.doc_id for p in got] == _independent_dense(many, fake_embedder, question, list(FAR))
    if mode == "bm25":
        # the same length (10 terms) and tf 1 each: BM25 is the sum of the idfs of the question's terms present
        assert [p.doc_id for p in got] == ["far/three.txt", "far/two.txt", "far/one.txt"]


@pytest.mark.parametrize("exact", [0, 1024])   # the FAISS selector; every scoped row scored exactly
@pytest.mark.parametrize("scope", [Scope(documents=("far/one.txt", "far/three.txt")), Scope(folders=("near",)),
                                   Scope(types=("txt",))])
def test_a_scoped_dense_ranking_is_the_whole_ranking_restricted_to_the_scope(many, fake_embedder, exact, scope):
    question = "salmon rivers sea honey"
    q = fake_embedder.encode([question])[0]
    r = Retriever(many, weights=(1.0, 0.4, 0.6, 0.5), depth=5)
    r.exact_scope_rows = exact
    whole = [p for p in r.search(question, q, 33, mode="dense", depth=33) if scope.admits(p.doc_id)]
    got = r.search(question, q, 5, mode="dense", scope=scope)
    assert all(scope.admits(p.doc_id) for p in got)
    # the same scores (near/ has ties, which an approximate search may break differently)
    assert [p.score for p in got] == pytest.approx([p.score for p in whole][:5], abs=1e-6)


def test_bm25_scores_only_allowed_rows():
    bm = BM25.build(["apple apple pear", "pear plum", "plum plum plum kiwi"])
    allowed = np.array([False, True, True])
    full, masked = bm.scores("pear plum"), bm.scores("pear plum", allowed)
    assert masked[0] == 0 and full[0] > 0 and np.array_equal(masked[1:], full[1:])


def _ivf(n=2000, dim=16, seed=0):
    vecs = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    index, params = dense.build(vecs)
    assert params["nprobe"] < params["nlist"]   # a search probes only some lists
    return vecs, index


def test_the_approximate_index_finds_every_allowed_row_even_outside_the_probed_lists():
    vecs, index = _ivf()
    search = dense.Dense([(index, np.arange(len(vecs)))], vecs.shape[1])
    q = vecs[0]
    far = np.argsort(vecs @ q)[:3]   # the three rows least like the question: not in its probed lists
    allowed = np.zeros(len(vecs), bool)
    allowed[far] = True
    _, rows = search.search(q, 5, allowed)
    assert sorted(rows[0][rows[0] >= 0]) == sorted(far) and (rows[0][3:] == -1).all()
    allowed[:] = False
    allowed[::2] = True   # half the rows: a bitmap selector; nothing odd comes back
    _, rows = search.search(q, 50, allowed)
    assert len(rows[0]) == 50 and (rows[0] % 2 == 0).all()


def test_exact_segments_map_their_rows_through_the_selector():
    vecs = np.eye(6, dtype=np.float32)
    to_version = np.array([4, -1, 0, 1, -1, 2], dtype=np.int64)   # two rows of deleted documents
    live = np.flatnonzero(to_version >= 0)
    search = dense.Dense([(dense.exact(vecs, live), to_version[live])], 6)
    allowed = np.array([True, False, True, False, False])   # version rows 0 and 2: local rows 2 and 5
    _, rows = search.search(vecs[5], 3, allowed)
    assert list(rows[0]) == [2, 0, -1]


# --- the answer ------------------------------------------------------------------------------------

@pytest.fixture
def rag(tmp_path):
    return scope_rag(tmp_path)


def test_a_scoped_question_is_answered_from_the_scoped_file(rag):
    question = QUESTION
    whole = rag.query(question)
    assert whole.found and (whole.short, whole.short_doc) == ("1803", "old/report.txt") and whole.notice is None
    scoped = rag.query(question, where={"folders": ["new"]})
    assert scoped.found and (scoped.short, scoped.short_doc) == ("1811", "new/survey.md")
    assert {c.doc_id for c in scoped.citations} == {"new/survey.md"}
    assert {p.doc_id for p in scoped.passages} == {"new/survey.md", "new/notes.md"}
    assert scoped.notice == "Searched 2 of 3 documents (folder new)."
    by_type = rag.query(question, where=Scope(types=("md",)))
    assert by_type.short == "1811" and by_type.notice == "Searched 2 of 3 documents (type md)."
    picked = rag.chat([{"role": "user", "content": question}], where={"documents": ["new/survey.md"]})
    assert picked.short == "1811" and {p.doc_id for p in picked.passages} == {"new/survey.md"}


def test_not_in_the_selected_documents(rag):
    answer = rag.query(QUESTION, where={"documents": ["new/notes.md"]})
    assert not answer.found and answer.text == NOT_FOUND_SCOPED and NOT_FOUND not in answer.text
    assert {p.doc_id for p in answer.passages} == {"new/notes.md"}
    assert rag.query("Who founded a brewery on the moon?").text == NOT_FOUND   # unscoped wording unchanged
    streamed = list(rag.chat_stream([{"role": "user", "content": QUESTION}],
                                    where={"documents": ["new/notes.md"]}))
    assert streamed[0] == NOT_FOUND_SCOPED and streamed[-1].text == NOT_FOUND_SCOPED


def test_a_scope_that_matches_nothing_says_so(rag):
    with pytest.raises(QuestionError, match=r"no indexed document is in the scope \(type pdf\): 3 documents "
                                            r"are indexed; `rag docs` lists them"):
        rag.query("When was the observatory founded?", where={"types": ["pdf"]})
    with pytest.raises(QuestionError, match=r"folder old; type md"):
        rag.chat([{"role": "user", "content": "When?"}], where={"folders": ["old"], "types": ["md"]})
    with pytest.raises(QuestionError, match="unknown scope key"):
        rag.search("When?", where={"kind": "pdf"})
