"""The not-found rule and sentence choice on one document alone and among many (real model)."""
import pytest

from rag import Config, Rag
from rag.build.builder import build_index

CUP = """# Harbour Cup 2016

The Harbour Cup is a rowing race between the Northern and Southern clubs of Tamsin.
The 2016 race was held on February 7, 2016, on the river Tamsin.
A crew crossing the line at the old bridge. Photo: J. Doe for the Tamsin Herald
The Northern club won the race by two lengths, its ninth win in a row.
About 4,000 people watched from the banks, according to the city council.
The winning crew was coached by Anna Berg, a former world champion.
"""
TOPICS = ["bakery", "library", "railway station", "football stadium", "hospital", "museum", "school", "harbour",
          "market", "theatre"]
TOWNS = ["Alder", "Birchford", "Coldwell", "Dunmere"]


def other_docs():
    """40 short documents about other towns and things."""
    docs = {}
    for town in TOWNS:
        for i, topic in enumerate(TOPICS):
            docs[f"{town}-{i}.txt"] = (f"{town} {topic}\n\nThe {topic} of {town} opened in {1900 + 7 * i}. "
                                       f"It was paid for by the people of {town} and is run by a local trust. "
                                       f"Visitors say the {topic} is busy on market days.\n")
    return docs


@pytest.fixture(scope="module")
def corpora(tmp_path_factory, real_embedder):
    out = {}
    for name, files in [("one", {"cup.md": CUP}), ("many", {"cup.md": CUP, **other_docs()})]:
        root = tmp_path_factory.mktemp(name)
        for fname, text in files.items():
            (root / "docs").mkdir(exist_ok=True)
            (root / "docs" / fname).write_text(text, encoding="utf-8")
        config = Config(corpus_dir=root / "docs", index_dir=root / "index")
        build_index(config, embedder=real_embedder)
        out[name] = Rag(config, embedder=real_embedder)
    return out


QUESTIONS = ["When was the 2016 Harbour Cup race held?", "Who coached the winning crew?",
             "How many people watched the Harbour Cup?", "Which club won the Harbour Cup?"]


@pytest.mark.parametrize("question", QUESTIONS)
def test_same_decision_and_score_on_one_document_and_many(corpora, question):
    one, many = corpora["one"].query(question), corpora["many"].query(question)
    assert one.found and many.found
    assert one.citations[0].quote == many.citations[0].quote
    # nothing of the evidence score depends on the rest of the corpus
    assert one.score == pytest.approx(many.score, abs=1e-5)


@pytest.mark.parametrize("question", ["What is the capital of Australia?",
                                      "Who was the first person to walk on the moon?",
                                      "How do I bake sourdough bread at home?"])
def test_unrelated_question_refused_on_one_document_and_many(corpora, question):
    assert not corpora["one"].query(question).found
    assert not corpora["many"].query(question).found


def _rules_answer(rag, question):
    """The rules' answer (no reader gate): the short answer the reader may hide but never changes."""
    from rag.answer.extractive import ExtractiveAnswerer

    qvec = rag.embed(question)
    a = ExtractiveAnswerer(rag.config.min_score, reader=None).answer(question, qvec, rag.search(question, qvec=qvec),
                                                                     rag.retriever)
    gated = rag.query(question)
    assert gated.short in (None, a.short) and [c.quote for c in gated.citations] == [c.quote for c in a.citations]
    return a


def test_date_question_gets_the_date_not_the_heading(corpora):
    for rag in corpora.values():
        a = _rules_answer(rag, "When was the 2016 Harbour Cup race held?")
        assert a.short == "February 7, 2016"
        assert a.text.startswith("February 7, 2016\n\n")
        assert "#" not in a.text and all("Harbour Cup 2016" != c.quote.strip("# ") for c in a.citations)
        assert CUP[a.short_start:a.short_end] == "February 7, 2016" and a.short_doc == "cup.md"


def test_caption_is_never_quoted(corpora):
    a = corpora["one"].query("Where did a crew cross the line?")
    assert all("Photo" not in c.quote and "old bridge" not in c.quote for c in a.citations)


def test_person_question_gets_a_name(corpora):
    a = _rules_answer(corpora["many"], "Who coached the winning crew?")
    assert a.short == "Anna Berg" and "Anna Berg" in a.citations[0].quote


def test_summary_gives_central_sentences_in_reading_order(corpora):
    a = corpora["many"].query("Summarize the Harbour Cup")
    assert a.found and 3 <= len(a.citations) <= 5
    assert all(c.doc_id == "cup.md" for c in a.citations)
    starts = [c.quote_start for c in a.citations]
    assert starts == sorted(starts)
    assert all(CUP[c.quote_start:c.quote_end] == c.quote and "Photo" not in c.quote for c in a.citations)
    assert a.text.count("[") == len(a.citations)


def test_summary_of_something_absent_is_refused(corpora):
    assert not corpora["many"].query("Summarize the history of the moon landing").found


def test_comparison_cites_both_documents(corpora):
    a = corpora["many"].query("Compare the Alder bakery and the Coldwell museum")
    assert a.found and {c.doc_id for c in a.citations} == {"Alder-0.txt", "Coldwell-5.txt"}


def test_yes_no_question_leads_with_the_deciding_sentence(corpora):
    a = corpora["one"].query("Did the Northern club win the 2016 Harbour Cup race?")
    assert a.found and a.citations[0].quote.startswith("The Northern club won the race")
