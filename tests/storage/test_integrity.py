"""The per-document checks of rag.storage.integrity.check_manifest: every bad entry is named, a good one passes."""
import pytest

from rag.errors import IndexCorruptError
from rag.storage.integrity import check_manifest
from rag.storage.layout import SEGMENT_FILES

SHA = "0" * 64


def manifest(docs):
    chunks = sum(d["chunks"] for d in docs if isinstance(d, dict) and type(d.get("chunks")) is int)
    sentences = sum(d["sentences"] for d in docs if isinstance(d, dict) and type(d.get("sentences")) is int)
    return {"model": "m", "dimension": 4, "settings": {"model": "m"}, "format_version": 6,
            "counts": {"documents": len(docs), "chunks": chunks, "sentences": sentences},
            "segments": {"s-000001": {"documents": 1, "chunks": 0, "sentences": 0,
                                          "files": {f: SHA for f in SEGMENT_FILES}}},
            "documents": docs, "files": {}}


def doc(i="a.txt", **extra):
    return {"id": i, "title": "A", "sha256": SHA, "segment": "s-000001", "chunks": 2, "sentences": 3, **extra}


class Name(str):   # not the exact type JSON gives: checked one field at a time, and accepted
    pass


def test_good_documents_pass():
    check_manifest(manifest([doc(), doc("b.txt", pending=True), doc("c.txt", pending=False), doc(Name("d.txt")),
                             doc("e.txt", kind="txt", size=10, page_starts=[0, 5])]))


@pytest.mark.parametrize("bad, message", [
    ("text", "manifest document 1 should be an object, found str"),
    (doc("b.txt", chunks=True), "manifest document 1: 'chunks' should be int, found bool 'True'"),
    (doc("b.txt", chunks=2.0), "manifest document 1: 'chunks' should be int, found float '2.0'"),
    (doc("b.txt", sentences=-1), "manifest document 1: 'sentences' is -1, should be at least 0"),
    (doc("b.txt", title=None), "manifest document 1: 'title' should be str, found NoneType 'None'"),
    ({k: v for k, v in doc("b.txt").items() if k != "sha256"}, "manifest document 1 has no 'sha256'"),
    (doc("b.txt", segment="s-000002"), "manifest document 1: segment 's-000002' is not listed in manifest segments"),
    (doc("b.txt", pending=1), "manifest document 1: pending should be true or false, found 1"),
    (doc("a.txt"), "manifest document 1: id 'a.txt' is listed twice"),
])
def test_each_bad_document_is_named(bad, message):
    with pytest.raises(IndexCorruptError) as err:
        check_manifest(manifest([doc(), bad, doc("z.txt")]))
    assert str(err.value) == message
