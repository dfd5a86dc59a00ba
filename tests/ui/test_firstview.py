"""The first view (ui/firstview.py): the <h1> with the product name and the welcome that says what
is indexed; and the example questions drawn across the documents (rag/answer/examples.py)."""
from __future__ import annotations

from types import SimpleNamespace

from rag.answer.examples import candidates, spread
from rag_ui import firstview


def docs(*kinds):
    return SimpleNamespace(documents=lambda: [SimpleNamespace(kind=k) for k in kinds])


def test_heading_and_welcome_say_what_is_indexed():
    assert firstview.header_html().startswith("<h1 class='rag-title'>rag-offline")
    text = firstview.welcome_html(docs("pdf", "pdf", "docx", "txt", "pdf", "pptx"))
    assert "<b>6 documents</b> (3 PDF, 1 Word, 1 slide deck, 1 text)" in text
    assert "1 document</b> (1 Markdown)" in firstview.welcome_html(docs("md"))
    assert "2 slide decks" in firstview.kinds_text(["pptx", "pptx"])
    assert "No documents are indexed yet" in firstview.welcome_html(docs())


def test_spread_takes_documents_across_the_list():
    assert spread(list(range(10)), 4) == [0, 3, 6, 9]
    assert spread([1, 2], 6) == [1, 2] and spread(list(range(5)), 1) == [0]


def test_example_candidates_alternate_between_documents(tmp_path, fake_embedder):
    from rag import Config, Rag
    from rag.build.builder import build_index

    corpus = tmp_path / "c"
    corpus.mkdir()
    topics = ["Varnholm Lighthouse", "Tallbrook Orchard", "Skelmoor Ferry", "Kessel Glacier"]
    for i, name in enumerate(topics):
        (corpus / f"{i}.txt").write_text(f"Notes {i}\n\nThe {name} is old. Visitors love the {name}. "
                                         f"The {name} opens daily.\n")
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "i", model=fake_embedder.name)
    build_index(config, embedder=fake_embedder, progress=False)
    qs = candidates(Rag.open(config.index_dir, embedder=fake_embedder).retriever)
    first = qs[:4]   # one question from each document before a second from any
    assert all(any(name in q for q in first) for name in topics), first
