"""The "Search in" filter's parts (ui/scope_filter.py): its choices list the index's folders, types and
documents; the values that come back from the browser become Rag.chat's where, anything else dropped; and
the chat handler answers within them."""
import pytest

from rag_ui import app, scope_filter

from scopecorpus import QUESTION, scope_rag


@pytest.fixture(scope="module")
def rag(tmp_path_factory):
    return scope_rag(tmp_path_factory.mktemp("filter"))


def test_choices_are_the_folders_types_and_documents(rag):
    assert scope_filter.choices(rag) == [
        ("Folder: new/", "folder:new"), ("Folder: old/", "folder:old"),
        ("Type: MD", "type:md"), ("Type: TXT", "type:txt"),
        ("Document: Notes (new/notes.md)", "doc:new/notes.md"),
        ("Document: Survey of the observatory (new/survey.md)", "doc:new/survey.md"),
        ("Document: The Quillmarsh observatory (old/report.txt)", "doc:old/report.txt")]


def test_values_from_the_browser_become_where():
    assert scope_filter.where([]) is None and scope_filter.where(None) is None
    assert scope_filter.where(["folder:new", "type:md", "doc:old/report.txt", "doc:a:b.md"]) == {
        "folders": ["new"], "types": ["md"], "documents": ["old/report.txt", "a:b.md"]}
    assert scope_filter.where(["folder:", "other:x", 3, "plain", {"a": 1}]) is None   # dropped, never an error
    assert scope_filter.where("folder:new") is None   # not a list


def test_the_chat_handler_answers_within_the_filter(rag):
    turns, messages, sources, _ = app.ask(rag, QUESTION, [], None, scope_filter.where(["folder:new"]))
    assert turns[0]["short"] == "1811" and "old/report.txt" not in sources
    assert "Searched 2 of 3 documents (folder new)" in messages[1]["content"]
    turns, messages, _, _ = app.ask(rag, QUESTION, [], None, scope_filter.where(["type:pdf"]))
    assert turns[0]["error"] and "no indexed document is in the scope (type pdf)" in messages[1]["content"]
