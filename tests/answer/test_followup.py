"""Follow-up questions: whether a question depends on the conversation, reference binding by type,
ellipses, conversations of three and more turns, and Rag.chat on the seed article."""
import pytest

from rag.errors import QuestionError
from rag.answer.followup import depends, previous_short, resolve, resolve_conversation


def conv(*turns):
    """[q1, a1, q2, a2, ..., q_last] as chat messages."""
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)]


# --- standalone questions are left exactly as typed -------------------------------------------------------

@pytest.mark.parametrize("question", [
    "Where is St Aloysius' College located?",
    "Who wrote this article?",
    "What is the capital of Australia?",
    "How many North Korean soldiers were sent to Russia last fall?",
    "And who ruled the duchy of Normandy?",                      # a leading "and" alone is not a follow-up
    "What does it mean for a disease to be enzootic?",           # "it" that needs no referent
    "How did the black death make it to the Mediterranean?",     # "make it"
    "Which Russian region did the Kremlin say it had regained?", # "it" after a name of the question
    "What did Kennedy say about his program?",                   # "his" after a name of the question
    "Who said that Ukraine is maintaining its presence?",        # "that" introducing a clause
    "Is there a monument for the fallen soldiers?",               # existential "there"
    "Is the chance that a number is prime proportional to its logarithm?",   # "its" after a noun phrase
])
def test_standalone_question_is_left_exactly_as_typed(question):
    assert not depends(question)
    r = resolve(question, "When was Manning picked first in the NFL Draft?", "1998\n\nquote [1]")
    assert not r.depends and r.question == question


def test_standalone_question_after_a_follow_up_is_left_alone():
    messages = conv("Who is the leader of North Korea?", "Kim Jong Un\n\nquote [1]",
                    "When did he sign the pact with Putin?", "Last year\n\nquote [1]",
                    "What is the population of Lisbon?")
    r = resolve_conversation(messages)
    assert not r.depends and r.question == "What is the population of Lisbon?"


def test_first_question_is_left_alone():
    r = resolve_conversation([{"role": "user", "content": "and how many?"}])
    assert r.question == "and how many?" and not r.depends


# --- references, by type ----------------------------------------------------------------------------------

@pytest.mark.parametrize("question, previous, answer, expected", [
    # a date for "that day", "that year", "then"
    ("Who praised the fighters that day?", "When did the Kremlin claim it had regained Kursk?", "Saturday\n\nq [1]",
     "Who praised the fighters on Saturday?"),
    ("Who was the deputy administrator of NASA that year?", "In what year was the Apollo program announced?",
     "1960\n\nq [1]", "Who was the deputy administrator of NASA in 1960?"),
    ("What has Pyongyang provided since then?", "When did Russia and North Korea sign the agreement?",
     "last June\n\nq [1]", "What has Pyongyang provided since last June?"),
    # a place for "there"
    ("When did Ukrainian forces retreat from there?", "Which Russian region was partly occupied last summer?",
     "Kursk\n\nq [1]", "When did Ukrainian forces retreat from Kursk?"),
    ("How many naval bases are located there?", "Where is the largest port?", "Jacksonville\n\nq [1]",
     "How many naval bases are located in Jacksonville?"),
    # a person for he / his: the previous answer when it asked for a person, else a person it names
    ("when is he expected in Russia?", "Who is the leader of North Korea?", "Kim Jong Un\n\nquote [1]",
     "When is Kim Jong Un expected in Russia?"),
    ("what is his position?", "Who said the troops let Putin claim an attack?", "Hong Min\n\nquote [1]",
     "What is Hong Min's position?"),
    ("Who was his father?", "What ethnicity was Shi Tianze?", "quote [1]", "Who was Shi Tianze's father?"),
    # a thing for it / its: the thing the previous question names, or the answer it asked "which X" for
    ("What university donated the land for it?", "Where was the Manned Spacecraft Center located?",
     "Houston, Texas\n\nq [1]", "What university donated the land for the Manned Spacecraft Center?"),
    ("From what pad was it launched?", "Which Apollo mission first tested the LM?", "Apollo 5\n\nq [1]",
     "From what pad was Apollo 5 launched?"),
    ("What are its committees like?", "Where is the work of the Scottish Parliament done?", "quote [1]",
     "What are the Scottish Parliament's committees like?"),
    # plural: they / them
    ("Where were most of them deployed?", "How many North Korean soldiers were sent to Russia?", "12,000\n\nq [1]",
     "Where were most of the North Korean soldiers deployed?"),
    # a demonstrative: the answer to "which <noun>", or the noun phrase of the previous question
    ("Why was that mission significant?", "Which mission did Schmitt land on the moon?", "Apollo 17\n\nq [1]",
     "Why was Apollo 17 significant?"),
    ("What type of launch was under way during that fire?", "In what year did the Apollo 1 cabin fire occur?",
     "1967\n\nq [1]", "What type of launch was under way during the Apollo 1 cabin fire?"),
])
def test_references_are_bound_to_an_entity_of_their_type(question, previous, answer, expected):
    r = resolve(question, previous, answer)
    assert r.depends and r.question == expected


def test_a_short_answer_that_was_not_shown_is_never_put_in():
    # the answer step leads with a short answer only when confident: without one, "he" is not a name guessed
    # from the answer: never a name of the question ("Putin"); the one other person the quoted sentences
    # name, if only one; else the person the question asked for, described in its own words
    r = resolve("Where does he work?", "Who said acknowledging the troops helps Putin?",
                "Acknowledging the troops lets Putin claim ..., said Hong Min and Ankit Panda. [1]")
    assert r.depends and r.question == "Where does the person who said acknowledging the troops helps Putin work?"
    r = resolve("Where does he work?", "Who said acknowledging the troops helps Putin?",
                "Acknowledging the troops lets Putin claim ..., said Hong Min. [1]")
    assert r.depends and r.question == "Where does Hong Min work?"
    assert previous_short("Acknowledging the troops lets Putin claim ..., said Hong Min. [1]") is None
    assert previous_short("Hong Min\n\nAcknowledging ... [1]") == "Hong Min"


def test_a_date_answer_does_not_stand_in_for_a_place():
    r = resolve("What happened there?", "When did the Kremlin claim control?", "Saturday\n\nq [1]")
    assert "Saturday" not in r.question


# --- ellipses become whole questions built from the previous one ---------------------------------------------

@pytest.mark.parametrize("question, previous, answer, expected", [
    ("And this year?", "How many North Korean soldiers were sent to Russia last fall?", "12,000\n\nq [1]",
     "How many North Korean soldiers were sent to Russia this year?"),
    ("And according to Seoul?", "According to Ukrainian officials, how many soldiers were sent last fall?",
     "12,000\n\nq [1]", "According to Seoul, how many soldiers were sent last fall?"),
    ("What is the source?", "How many of the North Korean troops were killed or wounded?", "a third\n\nq [1]",
     "According to whom, how many of the North Korean troops were killed or wounded?"),
    ("From what country?", "Who was the first person in space?", "Yuri Gagarin\n\nq [1]",
     "From what country was the first person in space?"),
    ("When?", "Who praised the North Korean troops on the Kremlin website?", "Putin\n\nq [1]",
     "When was it that Putin praised the North Korean troops on the Kremlin website?"),
    ("And Mersenne primes?", "Of what form do Fermat numbers take?", "q [1]", "Of what form do Mersenne primes take?"),
    ("What about Apollo 12?", "When did Apollo 11 land on the Moon?", "July 1969\n\nq [1]",
     "When did Apollo 12 land on the Moon?"),
    ("And the AFC champion?", "What team was the NFC champion?", "Carolina Panthers\n\nq [1]",
     "What team was the AFC champion?"),
    ("And another one?", "What is the name of one algorithm for testing primality?", "q [1]",
     "What is the name of another algorithm for testing primality?"),
    ("and how many were killed?", "How many North Korean soldiers were sent to Russia?", "12,000\n\nq [1]",
     "How many of the North Korean soldiers were killed?"),
])
def test_elliptical_follow_up_becomes_a_whole_question(question, previous, answer, expected):
    r = resolve(question, previous, answer)
    assert r.depends and r.question == expected


def test_read_as_is_a_question_never_a_keyword_list():
    r = resolve("Who originally produced it?", "Who created Wide World of Sports?", "Ed Smith\n\nquote [1]")
    assert r.question == "Who originally produced Wide World of Sports?"
    assert "(" not in r.question and r.question.endswith("?")


# --- conversations of three and more turns ----------------------------------------------------------------

def test_three_turns_chain_each_turn_read_as_resolved():
    messages = conv("In what month and year did the Apollo 11 mission occur?", "July 1969\n\nq [1]",
                    "Who were the astronauts aboard it?", "q [1]",
                    "What day did its crew return to Earth?")
    r = resolve_conversation(messages)
    assert r.depends and r.question == "What day did the Apollo 11 mission's crew return to Earth?"


def test_a_pronoun_returns_past_a_topic_switch_to_the_entity_of_its_type():
    messages = conv("Who is the leader of North Korea?", "Kim Jong Un\n\nq [1]",
                    "What is the capital of Australia?", "Canberra\n\nq [1]",
                    "When is he expected in Russia?")
    r = resolve_conversation(messages)
    assert r.depends and r.question == "When is Kim Jong Un expected in Russia?"


def test_back_to_an_earlier_topic_binds_to_its_full_name():
    messages = conv("Where was the Manned Spacecraft Center located?", "Houston, Texas\n\nq [1]",
                    "When was the prime number theorem proven?", "q [1]",
                    "Back to the spacecraft center: what university donated its land?")
    r = resolve_conversation(messages)
    assert r.depends and r.question == "What university donated the Manned Spacecraft Center's land?"


def test_a_topic_switch_then_a_follow_up_on_the_new_topic():
    messages = conv("Who is the leader of North Korea?", "Kim Jong Un\n\nq [1]",
                    "Where was the Manned Spacecraft Center located?", "Houston, Texas\n\nq [1]",
                    "What university donated the land for it?")
    r = resolve_conversation(messages)
    assert r.question == "What university donated the land for the Manned Spacecraft Center?"


# --- Rag.chat on the seed article ---------------------------------------------------------------------------

def test_chat_resolves_a_follow_up_on_the_seed_article(seed_rag):
    q1 = "How many North Korean soldiers were sent to Russia last fall?"
    a1 = seed_rag.chat([{"role": "user", "content": q1}])
    assert "12,000" in a1.text and a1.notice is None
    a2 = seed_rag.chat([{"role": "user", "content": q1}, {"role": "assistant", "content": a1.text},
                        {"role": "user", "content": "and how many were killed?"}])
    assert a2.found and "a third" in a2.text.lower()
    assert a2.notice and "Read as: How many of the North Korean soldiers were killed?" in a2.notice
    assert a2.question == "How many of the North Korean soldiers were killed?"


def test_chat_leaves_a_standalone_question_and_shows_no_read_as(seed_rag):
    q1 = "How many North Korean soldiers were sent to Russia last fall?"
    a1 = seed_rag.chat([{"role": "user", "content": q1}])
    a2 = seed_rag.chat([{"role": "user", "content": q1}, {"role": "assistant", "content": a1.text},
                        {"role": "user", "content": "Who wrote this article?"}])
    assert a2.question == "Who wrote this article?"
    assert not a2.notice or "Read as" not in a2.notice


def test_chat_follow_up_about_a_place(seed_rag):
    q1 = "Where were most of the North Korean troops deployed?"
    a1 = seed_rag.chat([{"role": "user", "content": q1}])
    a2 = seed_rag.chat([{"role": "user", "content": q1}, {"role": "assistant", "content": a1.text},
                        {"role": "user", "content": "when did Ukrainian forces retreat from there?"}])
    assert a2.question == "When did Ukrainian forces retreat from Kursk?"
    assert a2.found and "March" in a2.text   # the short answer only when the reader is confident (its min_prob)


def test_chat_needs_a_final_user_message(seed_rag):
    with pytest.raises(QuestionError):
        seed_rag.chat([{"role": "assistant", "content": "hi"}])
    with pytest.raises(QuestionError):
        seed_rag.chat([])


# --- a reference bound to the one entity of its type in the quoted sentences (no short answer shown) ------

def test_that_year_binds_the_one_date_of_the_quoted_sentence():
    r = resolve("Who was the deputy administrator of NASA that year?", "When was the Apollo program announced?",
                "The Apollo program was announced by NASA in 1960. [1]")
    assert r.depends and r.question == "Who was the deputy administrator of NASA in 1960?"


def test_he_binds_the_one_person_of_the_quoted_sentences():
    r = resolve("Where was he born?", "Who commanded Apollo 11?",
                "The mission was commanded by Neil Armstrong. [1] Armstrong was the first to walk. [2]")
    assert r.depends and r.question == "Where was Neil Armstrong born?"


def test_two_candidates_of_the_type_are_not_guessed_between():
    # two people in the quote: neither is put in; "he" is the person the question asked for, in its words
    r = resolve("Where was he born?", "Who commanded Apollo 11?",
                "The mission was commanded by Neil Armstrong with Buzz Aldrin. [1]")
    assert r.depends and r.question == "Where was the person who commanded Apollo 11 born?"
    r = resolve("What did the mayor say there?", "Where was the treaty signed?",
                "The treaty was signed in Paris and ratified in London. [1]")
    assert not r.depends and r.question == "What did the mayor say there?"


# --- one reading per pronoun, "that year", topic continuity, stranded prepositions -------------------------

def test_that_year_after_a_full_date_takes_its_year_and_that_day_the_date():
    prev, ans = "When was the final played?", "February 7, 2016\n\nq [1]"
    assert resolve("What was the final score that year?", prev, ans).question == "What was the final score in 2016?"
    assert resolve("Who sang the anthem that day?", prev, ans).question == "Who sang the anthem on February 7, 2016?"


def test_a_person_is_put_in_once_and_later_pronouns_of_the_person_stay():
    r = resolve_conversation(conv("Who wrote the Ninety-five Theses?", "Martin Luther\n\nq [1]",
                                  "What did the Church do when he refused to retract his writings?"))
    assert r.question == "What did the Church do when Martin Luther refused to retract his writings?"


def test_it_is_not_the_person_his_is_in_the_same_question():
    r = resolve_conversation(conv("What book did Martin Luther translate?", "q [1]",
                                  "What did his translation of it promote?"))
    assert r.question == "What did Martin Luther's translation of it promote?"


def test_it_keeps_what_the_previous_it_was_read_as():
    r = resolve_conversation(conv("Where did the black death originate?", "q [1]",
                                  "How did it reach the Mediterranean and Europe?", "q [1]",
                                  "How much of the population did it kill?"))
    assert r.question == "How much of the population did the black death kill?"
    # a "which <noun>" question answered: the answer is what "it" means next, not the older topic
    r = resolve_conversation(conv("Where did the black death originate?", "q [1]",
                                  "Which ship did it reach Sicily on?", "Aurora\n\nq [1]",
                                  "Who owned it?"))
    assert r.question == "Who owned Aurora?"


def test_wh_fragment_keeps_the_previous_questions_stranded_preposition():
    r = resolve("And in what city?", "What venue did Super Bowl 50 take place in?", "q [1]")
    assert r.question == "What city did Super Bowl 50 take place in?"


def test_a_one_word_name_an_answer_calls_a_person_is_a_person():
    r = resolve_conversation(conv("Who was the Norse leader?",
                                  "They came from Denmark under their leader Rollo, who swore fealty. [1]",
                                  "What century did his people gain their identity?"))
    assert r.question == "What century did Rollo's people gain their identity?"


def test_it_after_a_who_question_is_an_earlier_thing_not_the_person_named():
    r = resolve_conversation(conv("When was the Duchy of Normandy founded?",
                                  "In 911, the famed Viking ruler Rollo founded it. [1]",
                                  "Who did Rollo sign the treaty with that year?",
                                  "The documents do not contain an answer to this question.",
                                  "What river bounded it?"))
    assert r.question == "What river bounded the Duchy of Normandy?"
    # without an answer calling Rollo a person, the one-word name stays the nearest thing
    r = resolve_conversation(conv("When was the Duchy of Normandy founded?", "In 911. [1]",
                                  "Where is Rouen?", "q [1]", "How big is it?"))
    assert r.question == "How big is Rouen?"


def test_the_sentence_quoted_first_is_read_first_for_the_one_entity_of_its_type():
    answer = "The treaty was signed on 4 May 1911 in Paris. [1] A second accord followed in 1913. [2]"
    assert resolve("Who was president that year?", "When was the treaty signed?", answer).question == \
        "Who was president in 1911?"
    # two dates in the sentence quoted first, and more after: the reference stays as typed
    answer = "It was drafted in 1909 and signed in 1911. [1] A second accord followed in 1913. [2]"
    r = resolve("Who was president that year?", "When was the treaty signed?", answer)
    assert r.question == "Who was president that year?" and not r.depends


def test_it_after_a_where_question_is_its_subject_not_the_place_answered():
    r = resolve("How did it reach Europe?", "Where did the black death originate?",
                "arid plains of Central Asia\n\nq [1]")
    assert r.question == "How did the black death reach Europe?"
    # "there" is the place answered
    r = resolve("What trade routes ran there?", "Where did the black death originate?",
                "arid plains of Central Asia\n\nq [1]")
    assert r.question == "What trade routes ran in the arid plains of Central Asia?"
    # a plural subject is not what "it" is: the place answered is
    r = resolve("Who occupied part of it last summer?", "Where were most of the North Korean troops deployed?",
                "Kursk\n\nq [1]")
    assert r.question == "Who occupied part of Kursk last summer?"


def test_a_name_keeps_the_common_noun_beside_it():
    r = resolve("When was its Latin version first recorded?", "What is the original meaning of the word Norman?",
                "q [1]")
    assert r.question == "When was the word Norman's Latin version first recorded?"
    # a role beside a name is not kept: "the leader Rollo" is Rollo
    r = resolve("When did he die?", "What did the leader Rollo swear?", "q [1]")
    assert r.question == "When did Rollo die?"


def test_a_date_after_a_preposition_takes_none_of_its_own():
    r = resolve("What channels were removed in March of that year?", "What year was the dispute over the channels?",
                "2007\n\nq [1]")
    assert r.question == "What channels were removed in March of 2007?"
    r = resolve("What has changed since then?", "When was the treaty signed?", "1968\n\nq [1]")
    assert r.question == "What has changed since 1968?"
    r = resolve("Who won the election that year?", "When was the treaty signed?", "1968\n\nq [1]")
    assert r.question == "Who won the election in 1968?"


# --- "they" after a "who" question; a verb is not a plural noun phrase ------------------------------------

def test_they_after_a_who_question_are_those_answered():
    # "their" after "Who voted ...?" is who voted (the answer), not the thing the question names
    r = resolve_conversation(conv("Who voted on the venue for the Harbour Cup?",
                                  "Club owners\n\nThe club owners voted at their spring meeting. [1]",
                                  "Where did their spring meeting take place?"))
    assert r.question == "Where did the Club owners' spring meeting take place?"
    r = resolve_conversation(conv("Who voted on the venue for the Harbour Cup?",
                                  "The club owners voted at their spring meeting. [1]",
                                  "Where did their spring meeting take place?"))
    # the answer not shown: not "the Harbour Cup's spring meeting", but those the question asked for
    assert r.question == "Where did the spring meeting of those who voted on the venue for the Harbour Cup take place?"


def test_a_verb_after_a_question_word_is_not_a_plural_noun_phrase():
    r = resolve("How many of them were built?", "What makes the engines loud?", "quote [1]")
    assert r.question == "How many of the engines were built?"


# --- a reference to an answer that was not shown: what its question asked for, in the question's words -------

@pytest.mark.parametrize("previous, follow_up, expected", [
    ("Who was the Super Bowl 50 MVP?", "What position does he play?", "What position does the Super Bowl 50 MVP play?"),
    ("Who had Kublai wanted to succeed him?", "When did he die?", "When did the person Kublai had wanted to succeed him die?"),
    ("What theorem states that primes thin out?", "When was it proven?",
     "When was the theorem that states that primes thin out proven?"),
    ("What law justified British imperialism?", "What does it mean in English?",
     "What does the law that justified British imperialism mean in English?"),
    ("Who was appointed to head the team?", "What was the nickname given to his team?",
     "What was the nickname given to the team of the person who was appointed to head the team?"),
    ("What is the name of the property that makes a number prime?", "Who defined it?",
     "Who defined the property that makes a number prime?"),
    ("Who won the race in Paris?", "What was his Nobel Prize for?",
     "What was the Nobel Prize of the person who won the race in Paris for?"),
    ("Who won the race in Paris?", "Was the prize his?", "Was the prize his?"),   # no noun to own: as typed
])
def test_a_reference_to_an_answer_not_shown_reads_as_what_was_asked_for(previous, follow_up, expected):
    r = resolve(follow_up, previous, "The documents do not contain an answer to this question.")
    assert r.question == expected and r.depends == (expected != follow_up)


def test_a_shown_short_answer_still_comes_before_the_description():
    r = resolve("What position does he play?", "Who was the Super Bowl 50 MVP?", "Von Miller\n\nq [1]")
    assert r.question == "What position does Von Miller play?"


def test_a_possessed_noun_that_is_the_question_s_own_noun_is_left_as_typed():
    # "its crew" after "What crew ...?": "the crew of the crew that ..." would be nonsense
    r = resolve("What did its crew read?", "What crew sent the first live images of our planet?", "q [1]")
    assert r.question == "What did its crew read?"


def test_him_in_the_clause_of_a_named_person_is_someone_else():
    # "Luther called by him": "him" cannot be Luther (that would be "himself"), so it is a reference
    r = resolve("When was Luther called by him to Wittenberg?", "Who asked Luther to teach at Wittenberg?",
                "Von Staupitz\n\nq [1]")
    assert r.question == "When was Luther called by Von Staupitz to Wittenberg?"
    assert not depends("What did Kennedy say about his program?")   # "his" may be Kennedy's own
    r = resolve("After Kennedy spoke, who answered him?", "Who ran?", "Kim\n\nq [1]")
    assert not r.depends   # "him" after a name in an earlier clause is that name


def test_it_after_a_who_question_answered_by_a_body_is_that_body():
    r = resolve("How many seats must a party have to be represented on it?", "Who sets the agenda in the chamber?",
                "Parliamentary Bureau\n\nThe Parliamentary Bureau sets the agenda. [1]")
    assert r.question == "How many seats must a party have to be represented on the Parliamentary Bureau?"


def test_that_after_a_noun_phrase_starts_a_relative_clause_not_a_demonstrative():
    assert not depends("What is the name of the property that designates a number as prime?")
    assert depends("Who commanded that mission?")
