"""The pieces behind the chat page, without a browser: rendering, the session's turns,
export, the feedback log, example questions and the plain-language status."""
from __future__ import annotations

import datetime
import json
import threading

import pytest

from rag.answer.examples import candidates, salient_terms
from rag.answer.feedback import default_path, record
from rag_ui import export, session
from rag_ui.render import answer_html, marked, reading_text, sources_html, status_text

TURN = {"question": "How many gulls?", "answer": "4,217\n\nThe keeper counted 4,217\ngulls. [1]", "found": True,
        "notice": None, "short": "4,217", "short_doc": "gulls.md", "short_start": 28, "short_end": 33,
        "nearest": False, "error": False,
        "sources": [{"marker": 1, "doc": "gulls.md", "title": "Gulls", "start": 0, "end": 60, "page": 2,
                     "chunk": 0, "quotes": [[9, 40]],
                     "text": "# Gulls\n\nThe keeper counted 4,217\ngulls. <img src=http://x/p.png>"}]}


def test_reading_text_drops_heading_marks_joins_lines_and_escapes():
    assert reading_text("# Title\n\nline one\nline two") == "Title<br><br>line one line two"
    assert reading_text("x\n## Sub\ny") == "x Sub y"
    assert reading_text("![x](http://h/p.png) <img src=x>") == "![x](http://h/p.png) &lt;img src=x&gt;"


def test_marks_nest_short_answer_inside_its_quote():
    text = "Alpha beta. The keeper counted 4,217 gulls. Gamma."
    out = marked(text, 100, [(112, 143, "quote"), (131, 136, "short")])
    assert out == ("Alpha beta. <mark class='quote'>The keeper counted <mark class='short'>4,217</mark>"
                   " gulls.</mark> Gamma.")
    crossing = marked(text, 0, [(0, 10, "quote"), (6, 20, "short")])   # cut at the enclosing end
    assert crossing.count("<mark") == crossing.count("</mark>") == 2


def test_answer_links_only_its_own_markers_and_sources_escape():
    t = dict(TURN, answer="See [1] and [7] <b>x</b>")
    html = answer_html(t, 3)
    assert "<a href='#cite-3-1' class='cite'>[1]</a>" in html and "[7]" in html and "#cite-3-7" not in html
    assert "<b>" not in html and "&lt;b&gt;" in html
    src = sources_html(TURN, 0, 1)
    assert "<img" not in src and "&lt;img src=http://x/p.png&gt;" in src
    assert "class='src selected'" in src and "page 2" in src and "# Gulls" not in src
    assert "<mark class='short'>4,217</mark>" in src


def test_status_in_plain_language():
    now = datetime.datetime(2026, 1, 2, 12, 0, tzinfo=datetime.timezone.utc)
    assert status_text({"documents": 29, "built_at": "2026-01-02T11:55:00+00:00"}, now) == \
        "29 documents, indexed 5 minutes ago"
    assert status_text({"documents": 1, "built_at": "2026-01-02T11:59:30+00:00"}, now) == \
        "1 document, indexed just now"
    assert status_text({"documents": 3, "built_at": "2025-12-31T11:00:00+00:00"}, now).endswith("2 days ago")
    assert status_text({"documents": 3, "built_at": None}, now) == "3 documents, indexed at an unknown time"
    assert status_text({"documents": 3, "built_at": None, "skipped": 2}, now) == \
        "3 documents, indexed at an unknown time · 2 files could not be read (see Documents)"
    partial = {"complete": False, "documents": 1200, "documents_pending": 200, "chunks": 3000, "chunks_pending": 500}
    assert status_text({"documents": 1200, "built_at": None, "vectors": partial}, now) == \
        ("1200 documents, indexed at an unknown time · still indexing: vectors for 1,000 of 1,200 documents "
         "(answers use keywords only until done)")
    assert "still indexing" not in status_text({"documents": 3, "built_at": None,
                                                "vectors": dict(partial, complete=True)}, now)
    uploads = {"queued": ["b.md", "c.pdf", "d.txt", "e.txt"], "indexing": ["a.docx"]}
    assert status_text({"documents": 3, "built_at": None, "uploads": uploads}, now) == \
        ("3 documents, indexed at an unknown time · indexing upload: a.docx · queued (indexed when the index is "
         "free): b.md, c.pdf, d.txt and 1 more")
    assert status_text({"documents": 3, "built_at": None, "uploads": None}, now) == \
        "3 documents, indexed at an unknown time"


def test_restore_keeps_valid_turns_and_drops_tampered_ones():
    good = json.loads(json.dumps(TURN))
    bad = [None, 5, {"question": "q"}, dict(good, sources=[dict(good["sources"][0], start=-1)]),
           dict(good, answer=["not", "text"]), dict(good, short_start="9")]
    assert session.restore([*bad, good]) == [good]
    assert session.restore("not a list") == [] and session.restore(None) == []
    assert len(session.restore([good] * 80)) == session.MAX_TURNS


def test_conversation_for_follow_ups_leaves_errors_out():
    turns = [TURN, session.from_error("??", "empty question"), dict(TURN, question="and where?")]
    msgs = session.conversation(turns)
    assert [m["role"] for m in msgs] == ["user", "assistant"] * 2 and msgs[2]["content"] == "and where?"
    shown = session.chat_messages(turns)
    assert len(shown) == 6 and "#cite-2-1" in shown[5]["content"]


def test_export_markdown_and_json():
    md = export.to_markdown([TURN])
    assert "**Question:** How many gulls?" in md and "[1] Gulls (gulls.md, page 2)" in md
    assert "> The keeper counted 4,217 gulls." in md
    assert json.loads(export.to_json([TURN]))["conversation"][0] == TURN
    p = json.loads(export.payload([TURN], "json"))
    assert p["name"] == "conversation.json" and json.loads(p["text"])["conversation"]
    assert json.loads(export.payload([TURN], "md"))["mime"] == "text/markdown"


def test_feedback_lines_append_and_do_not_interleave(tmp_path):
    path = default_path(tmp_path / "idx")
    assert path == tmp_path / "idx-feedback.jsonl"
    threads = [threading.Thread(target=record, kwargs=dict(
        path=path, rating="up" if i % 2 else "down", question=f"q{i} " + "x" * 5000, answer="a",
        passages=[{"doc": "d.txt", "start": 1, "end": 9, "chunk": 3, "text": "not logged"}])) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 20 and {e["rating"] for e in lines} == {"up", "down"}
    assert lines[0]["passages"] == [{"doc": "d.txt", "start": 1, "end": 9, "chunk": 3}]
    with pytest.raises(ValueError):
        record(path, rating="meh", question="q", answer="a", passages=[])


def test_example_candidates_come_from_the_documents(tmp_path, fake_embedder):
    from rag import Config, Rag
    from rag.build.builder import build_index

    text = ("Lighthouses of Varnholm\n\nThe Varnholm lighthouse was built by Edda Strand in 1871. "
            "Edda Strand also kept the Skarv beacon. The beacon and the Varnholm lighthouse share a keeper. "
            "Storms reach Varnholm each winter.\n")
    assert salient_terms(text, "Lighthouses of Varnholm")[0] == "Edda Strand"
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "lights.txt").write_text(text)
    config = Config(corpus_dir=tmp_path / "c", index_dir=tmp_path / "i", model=fake_embedder.name)
    build_index(config, embedder=fake_embedder)
    qs = candidates(Rag.open(config.index_dir, embedder=fake_embedder).retriever)
    assert "Summarize Lighthouses of Varnholm" in qs
    assert "What do the documents say about Edda Strand?" in qs
    assert not any("North Korea" in q for q in qs)


def test_the_lead_line_has_its_own_look():
    html = answer_html(TURN, 0)
    assert html.startswith("<strong class='lead'>4,217</strong>")
    assert "The keeper counted 4,217 gulls. <a href='#cite-0-1' class='cite'>[1]</a>" in html
    plain = dict(TURN, short=None)
    assert "class='lead'" not in answer_html(plain, 0)
    other = dict(TURN, answer="The keeper counted 4,217 gulls. [1]")   # a short answer that does not lead
    assert "class='lead'" not in answer_html(other, 0)


def test_the_document_text_scrolls_from_the_keyboard_and_shows_the_page_beside_it():
    from rag_ui.render import document_html

    html = document_html("Gulls", "gulls.pdf", "Para one.\n\nPara two.", 0, 9, [],
                         "<figure class='pageimg'>P</figure>")
    assert "<div class='doctext' tabindex='0' role='region' aria-label='Text of Gulls'>" in html
    assert "Para one.</span><br><br>Para two." in html   # paragraphs kept
    assert html.index("class='doctext'") < html.index("<figure class='pageimg'>P</figure>")
