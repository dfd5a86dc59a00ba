"""A small corpus for scoped questions: two files answer "When was the Quillmarsh observatory founded?"
with different years (old/report.txt: 1803, new/survey.md: 1811) and one answers nothing (new/notes.md)."""
from __future__ import annotations

from conftest import FakeEmbedder

REPORTS = {
    "old/report.txt": "The Quillmarsh observatory\n\nOrlanth Veyne founded the Quillmarsh observatory in 1803. "
                      "It catalogued comets for many decades.\n",
    "new/survey.md": "# Survey of the observatory\n\nA later survey says that Orlanth Veyne founded the Quillmarsh "
                     "observatory in 1811. The survey was printed in Dravik.\n",
    "new/notes.md": "# Notes\n\nSalmon swim up rivers to spawn in cold water every autumn.\n",
}
QUESTION = "When was the Quillmarsh observatory founded?"


def scope_rag(base):
    """A Rag (fake embedder) over REPORTS written to base/corpus, indexed in base/idx."""
    from rag import Config, Rag
    from rag.build.builder import build_index

    corpus = base / "corpus"
    for name, text in REPORTS.items():
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        (corpus / name).write_text(text, encoding="utf-8")
    build_index(Config(corpus_dir=corpus, index_dir=base / "idx", model=FakeEmbedder.name),
                embedder=FakeEmbedder(), progress=False)
    return Rag.open(base / "idx", embedder=FakeEmbedder(), corpus_dir=corpus)
