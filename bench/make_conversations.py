"""Write the follow-up conversation sets bench/conversations_squad.jsonl and bench/conversations_seed.jsonl.

The follow-up wording below is ours; SQuAD questions are referred to by id only (the last four hex digits
of the id, within the article, are expanded to the full id from ../shared/data/squad-dev at run time), so
no SQuAD text is stored. A turn is {"qid"} (the SQuAD question asked as written: a standalone question,
which must be left unchanged), or {"ask", "qid", "depends", "kind"}: our wording of that question as
it would be asked in the conversation; the SQuAD question is its written-out form and its gold answers
the expected answer. Seed-article turns carry "full" and "answers" themselves. kind: "pronoun" (a
reference to a name of an earlier question), "answer" (a reference to the previous answer), "ellipsis",
"return" (a reference back past a topic switch); "standalone" marks our wording of a question that needs
no context ("And who ruled ...?": to be left as typed). Usage:

    python bench/make_conversations.py [../shared/data/squad-dev]
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
APOLLO, SCOT, ABC, CCT, DW, PRIME = ("Apollo_program", "Scottish_Parliament", "American_Broadcasting_Company",
                                     "Computational_complexity_theory", "Doctor_Who", "Prime_number")
BD, BDS, NORM = "Black_Death", "Super_Bowl_50", "Normans"
FRESNO, JAX = "Fresno,_California", "Jacksonville,_Florida"

# (article, split, turns); a turn is "suffix" (standalone, asked as written), "Article:suffix" (standalone,
# another article: a topic switch) or (suffix, our wording, kind)
SQUAD = [
    (APOLLO, "validation", ["cbe7", ("cbea", "Who was the deputy administrator of NASA that year?", "answer")]),
    (APOLLO, "validation", ["bd40", ("bd41", "What type of launch was happening during that fire?", "pronoun"),
                            f"{SCOT}:8334"]),
    (APOLLO, "validation", ["d455", ("d456", "When was it conceived?", "pronoun"), f"{DW}:98e4"]),
    (APOLLO, "validation", ["cc31", ("cc33", "How long did it take Johnson to respond to him?", "pronoun")]),
    (APOLLO, "validation", ["d4a7", ("d4a8", "What university donated the land for it?", "pronoun"),
                            f"{PRIME}:9467", ("d4a8", "Back to the Manned Spacecraft Center: who donated its land?",
                                              "return")]),
    (APOLLO, "validation", ["bdcf", ("bdd0", "What position was he appointed to for the Launch Operations Center?",
                                     "answer"), f"{ABC}:7469"]),
    (APOLLO, "validation", ["d134", ("d132", "When was he announced and appointed as Deputy Associate Administrator?",
                                     "answer"), ("d133", "Who did he replace as Associate Administrator?", "pronoun")]),
    (APOLLO, "validation", ["cc6e", ("cc6f", "What was his official title at NASA?", "pronoun"), f"{SCOT}:6cf5"]),
    (APOLLO, "validation", ["d65c", ("d65d", "How many stages did it end up having?", "pronoun"),
                            ("d65e", "What did its second stage end up doing?", "pronoun")]),
    (APOLLO, "validation", ["bf71", ("bf72", "Why was that mission significant?", "answer"), f"{CCT}:3094"]),
    (APOLLO, "validation", ["d28f", ("d290", "For which project did he work before becoming Director of Flight Crew "
                                             "Operations?", "answer")]),
    (APOLLO, "validation", ["c039", ("c03b", "Who were the astronauts aboard it?", "pronoun"),
                            ("c03c", "What day did its crew return to Earth?", "pronoun"), f"{DW}:98f3"]),
    (APOLLO, "validation", ["ce35", ("ce36", "Which lunar probe was near its landing site?", "answer")]),
    (APOLLO, "validation", ["d2cd", ("d2ce", "From what pad was it launched?", "answer"), f"{PRIME}:9502"]),
    (APOLLO, "validation", ["d729", ("d72d", "What month and year was it launched?", "pronoun")]),
    (APOLLO, "validation", ["d0c8", ("d0cb", "What term did he use to show that America was falling behind them?",
                                     "pronoun"), f"{DW}:f087",
                            ("d0c9", "Back to Kennedy: what was he put off by regarding the space program?",
                             "return")]),
    (APOLLO, "validation", ["c0cc", ("c0cd", "From what Bible book did its crew read during the broadcast?",
                                     "answer"), f"{SCOT}:8337"]),
    (APOLLO, "validation", ["bd20", ("bd21", "What program helped develop the techniques it used?", "pronoun")]),
    (APOLLO, "validation", ["cc1d", ("cc1e", "From what country?", "ellipsis"),
                            f"{ABC}:87ff"]),
    (APOLLO, "validation", ["d6ab", ("d6ac", "What was the nickname given to his team?", "answer"),
                            ("d6ae", "Who appointed him?", "pronoun"), f"{CCT}:7a68"]),
    (APOLLO, "validation", ["d4a5", ("d4a6", "Where was it located?", "pronoun"), f"{SCOT}:8333",
                            ("d4a6", "Going back to the Space Task Group, where was it located?", "return")]),
    (APOLLO, "validation", ["c012", ("c013", "What was cancelled by NASA after that test?", "pronoun")]),
    (APOLLO, "validation", ["d1a3", ("d1a4", "Who was announced as its contractor in November "
                                                                  "1962?", "pronoun"), f"{DW}:f064"]),
    (SCOT, "validation", ["8334", ("8335", "What nationality is he?", "answer"), f"{APOLLO}:cbe7"]),
    (SCOT, "validation", ["8333", ("8337", "Who opened it on October 9, 2004?", "answer")]),
    (SCOT, "validation", ["c86e", ("c86f", "What did they publicly opine about the oil revenues?", "pronoun"),
                          f"{ABC}:7433"]),
    (SCOT, "validation", ["6cf5", ("6cf6", "What are they like compared to other systems?", "answer"),
                          ("6cf9", "Where might they meet outside of Parliament?", "pronoun")]),
    (SCOT, "validation", ["c8f8", ("c8f9", "How many seats must a party have to be represented on it?", "answer"),
                          f"{PRIME}:83a3"]),
    (SCOT, "validation", ["cd02", ("cd03", "How many parts does the consideration of a bill in that stage have?",
                                   "answer"), ("cd04", "What vote takes place in it?", "pronoun")]),
    (SCOT, "validation", ["847f", ("847e", "Who is not able to deal with the issues legislated on there?",
                                   "answer"), f"{DW}:98e2"]),
    (SCOT, "validation", ["cc80", ("cc82", "What does that officer try to achieve a balance of between speakers?",
                                   "answer")]),
    (SCOT, "validation", ["8447", ("8448", "How long does it last?", "pronoun"), f"{APOLLO}:d455"]),
    (SCOT, "validation", ["c864", ("c866", "When was there a sharp rise in nationalism there?", "pronoun")]),
    (SCOT, "validation", ["6c15", ("6c17", "What type of ballot is used to elect that officer and the deputies?",
                                   "pronoun"), f"{CCT}:3094",
                          ("6c17", "Back to the Presiding Officer: what type of ballot is used to elect him?",
                           "return")]),
    (SCOT, "validation", ["832b", ("832d", "What percentage of the voting population failed to vote then?",
                                   "pronoun"), f"{APOLLO}:d65c"]),
    (SCOT, "validation", ["8477", ("8473", "What act sets forth its functions?", "answer")]),
    (ABC, "validation", ["7469", ("746a", "What kind of network was it when it first began?", "pronoun"),
                         ("746b", "When did it first get into television broadcasts?", "pronoun"),
                         f"{SCOT}:8334"]),
    (ABC, "validation", ["87fc", ("87fe", "What investment firm offered to buy the network from him?", "answer"),
                         f"{APOLLO}:d28f"]),
    (ABC, "validation", ["e29e", ("e29f", "When was the sale of NBC Blue to him authorized?", "pronoun")]),
    (ABC, "validation", ["e2a1", ("e2a2", "When did he leave ABC?", "pronoun"), f"{PRIME}:9466",
                         ("e2a2", "Back to Mark Woods: when did he leave ABC?", "return")]),
    (ABC, "validation", ["c8ef", ("c8ed", "What new technology allowed it to pre-record its shows?", "answer"),
                         ("c8f0", "Who was a big star it was able to attract because of that technology?",
                          "pronoun")]),
    (ABC, "validation", ["87fd", ("87ff", "Who was RCA president that year?", "pronoun"), f"{DW}:98e3"]),
    (ABC, "validation", ["c85d", ("c85e", "In what year did the FCC begin an investigation into the operation of "
                                          "radio networks?", "pronoun")]),
    (ABC, "validation", ["7433", ("7437", "Disney-ABC Television Group is a subsidiary of what division of it?",
                                  "answer"), f"{SCOT}:c864"]),
    (CCT, "validation", ["3094", ("3098", "What does it handle on a strip of tape?", "answer"), f"{ABC}:e29e"]),
    (CCT, "validation", ["7a68", ("7a69", "What fixed set of factors determine its actions?", "answer")]),
    (CCT, "validation", ["79f8", ("79f7", "How many outputs are expected for each input in that type of problem?",
                                  "answer"), f"{APOLLO}:d4a7"]),
    (CCT, "validation", ["7a4a", ("7a4b", "How is it written as an expression?", "answer")]),
    (CCT, "validation", ["79a1", ("79a3", "Is it typically characterized as abstract or concrete?", "answer"),
                         f"{DW}:f063"]),
    (DW, "validation", ["98e2", ("98e3", "What year did it first show on TV?", "pronoun"),
                        ("98e4", "What is the Doctor's space ship called?", "pronoun"), f"{APOLLO}:bd40"]),
    (DW, "validation", ["98e4", ("98e5", "What does the outside of it resemble?", "answer")]),
    (DW, "validation", ["98f3", ("98f6", "Who played the Doctor in that revival?", "pronoun"), f"{SCOT}:8447"]),
    (DW, "validation", ["f087", ("f088", "What vehicle did the Doctor use for his escape from there?", "answer"),
                        ("f089", "What does it stand for?", "answer")]),
    (DW, "validation", ["f063", ("f064", "Who followed Matt Smith in the role?", "pronoun"), f"{ABC}:7469",
                        ("f066", "Back to Doctor Who: when does the Doctor transition to a new body?", "return")]),
    (DW, "validation", ["f0a9", ("f0a6", "What enemy of his is also one?", "answer"), f"{PRIME}:4f93"]),
    (DW, "validation", ["9958", ("9959", "How many UK viewers watched the film?", "pronoun")]),
    (PRIME, "validation", ["9466", ("9467", "When was it proven?", "answer"), f"{APOLLO}:c039"]),
    (PRIME, "validation", ["83a5", ("83a6", "And another one?", "ellipsis"), f"{SCOT}:8333"]),
    (PRIME, "validation", ["4f8a", ("4f8c", "And Mersenne primes?", "ellipsis")]),
    (PRIME, "validation", ["a4c7", ("a4c9", "It involves dividing n by every integer m greater than what?", "answer"),
                           f"{DW}:98f3"]),
    (PRIME, "validation", ["952d", ("952f", "What does it state the source of irregularity in the distribution of "
                                            "points comes from?", "pronoun")]),
    (PRIME, "validation", ["9502", ("9504", "How is the prime number p in it expressed mathematically?", "pronoun"),
                           f"{CCT}:79f8"]),
    (PRIME, "validation", ["8462", ("8463", "And another one?", "ellipsis")]),
    (PRIME, "validation", ["4f88", ("4f8a", "Of what form do his numbers take?", "pronoun"), f"{ABC}:c8ef",
                           ("4f8a", "Going back to Fermat, of what form do his numbers take?", "return")]),
    (FRESNO, "validation", ["cd4d", ("cd4e", "How far is it from Los Angeles?", "answer"),
                            ("cd4f", "What does its name mean in Spanish?", "pronoun"), f"{JAX}:954a"]),
    (FRESNO, "validation", ["d227", ("d228", "How many streetcars did the Fresno Traction Company operate in 1931?",
                                     "pronoun")]),
    (FRESNO, "validation", ["d639", ("d63c", "In what year did it change its name?", "answer"),
                            ("d63d", "What present-day company did it turn into?", "pronoun"), f"{APOLLO}:d134"]),
    (FRESNO, "validation", ["bf58", ("bf59", "And who recorded it?", "ellipsis")]),
    (JAX, "validation", ["954a", ("954b", "What was its population as of 2010?", "answer"),
                         ("954d", "In which county does it reside?", "pronoun"), f"{DW}:9958",
                         ("954e", "Back to Jacksonville: what year did consolidation make it part of Duval County?",
                          "return")]),
    (JAX, "validation", ["9676", ("9677", "How far is the city from Miami?", "pronoun")]),
    (JAX, "validation", ["967a", ("9679", "Prior to the arrival of the French, the area named after him was "
                                          "inhabited by what people?", "answer"), f"{SCOT}:8477"]),
    (JAX, "validation", ["958f", ("9590", "How many naval bases are located there?", "pronoun")]),
    (JAX, "validation", ["9bed", ("9bee", "What civilization did it belong to?", "pronoun"), f"{PRIME}:9502"]),
]
# training articles (the rules were developed on these and the seed article; not reported as held-out figures)
SQUAD += [
    (BDS, "train", ["02ee", ("91bb", "What day was it played on?", "pronoun")]),
    (BDS, "train", ["25ea", ("25e9", "And the AFC champion?", "ellipsis"), f"{NORM}:9628"]),
    (BDS, "train", ["91df", ("91e0", "What venue did it take place in?", "pronoun"),
                    ("91e1", "And in what city?", "ellipsis")]),
    (BDS, "train", ["94fd", ("9500", "What was the final score that year?", "answer"), f"{BD}:c123"]),
    (BD, "train", ["c123", ("c124", "How did it make it to the Mediterranean and Europe?", "pronoun"),
                   ("c125", "How much of the European population did it kill?", "pronoun"), f"{NORM}:ad5f"]),
    (BD, "train", ["db0d", ("db0c", "What did the Mongol army throw in their catapults?",
                            "pronoun")]),
    (BD, "train", ["6ecb", ("6ecc", "When did the famine begin there?", "answer"), f"{BDS}:02ee",
                   ("6ecd", "Back to China: how many did that epidemic kill?", "return")]),
    (BD, "train", ["db2f", ("db30", "How did the plague infiltrate it?", "pronoun")]),
    (NORM, "train", ["962b", ("962c", "What century did his people first gain their "
                                                                  "separate identity?", "answer"), f"{BD}:6ecb"]),
    (NORM, "train", ["ad75", ("ad76", "Who did Rollo sign the treaty with that year?", "answer"),
                     ("ad77", "What river originally bounded it?", "pronoun")]),
    (NORM, "train", ["ad5f", ("ad60", "And who ruled the duchy of Normandy?", "standalone"), f"{BDS}:91df",
                     ("ad61", "Back to the Normans: what religion were they?", "return")]),
    (NORM, "train", ["9636", ("9637", "When was its Latin version first recorded?", "pronoun")]),
    ("Martin_Luther", "train", ["5bf5", ("5bf6", "When did he die?", "pronoun"),
                                ("5bf7", "What organization's teaching did he reject?", "pronoun"), f"{APOLLO}:cbe7",
                                ("5bf9", "Back to Luther: what did the Church do when he refused to retract his "
                                         "writings?", "return")]),
    ("Martin_Luther", "train", ["7284", ("7285", "What did his translation of it promote in the German language?",
                                         "answer"), ("7286", "What English translation did it affect?", "pronoun")]),
]

S = lambda ask, answers: {"ask": ask, "full": ask, "answers": answers, "depends": False}
F = lambda ask, full, answers, kind: {"ask": ask, "full": full, "answers": answers, "depends": True, "kind": kind}
SENT = "How many North Korean soldiers were sent to Russia last fall?"
# more training conversations whose follow-up points at the previous answer ("he", "there", "that year" after
# a "who/where/when" question), written to tune what retrieval does with a reference left unbound
ML, SKY, HUG, AMZ, NCL, CIV = ("Martin_Luther", "Sky_(United_Kingdom)", "Huguenot", "Amazon_rainforest",
                               "Newcastle_upon_Tyne", "Civil_disobedience")
SQUAD += [
    (ML, "train", ["5c77", ("5c78", "What lesson did he teach Luther repentance was?", "answer")]),
    (ML, "train", ["5dab", ("5dad", "What did he call Luther?", "answer")]),
    (ML, "train", ["73fb", ("73fc", "To whom was he the assistant?", "answer")]),
    (ML, "train", ["022c", ("022b", "What did he preach that God's gospel revealed?", "answer")]),
    (ML, "train", ["0c5f", ("0c61", "When did Luther write an extreme treatise against them?", "answer")]),
    (SKY, "train", ["150b", ("150c", "Who is the parent company of that company?", "answer")]),
    (SKY, "train", ["7dfe", ("7dff", "What channels were removed from the network in March of that year?",
                             "answer")]),
    (HUG, "train", ["f995", ("f996", "What house was the site of a weaving school there?", "answer")]),
    (HUG, "train", ["6bd7", ("6bda", "What other European Protestant leader was educated there?", "answer")]),
    (AMZ, "train", ["a6c9", ("48bf", "In what book did she describe the Amazon as sparsely populated?", "answer")]),
    (AMZ, "train", ["a76f", ("a770", "How many square miles large was the region hit by the drought that year?",
                             "answer")]),
    (NCL, "train", ["74be", ("74bf", "What did he guide the Theatre Royal through?", "answer")]),
    (NCL, "train", ["77b4", ("77b5", "What was added to the church that year?", "answer")]),
    ("Pharmacy", "train", ["ee08", ("ee07", "Which two compounds did he differentiate between?", "answer")]),
    (CIV, "train", ["005f", ("43cf", "What was his punishment for not paying his taxes?", "answer")]),
    (CIV, "train", ["0080", ("442a", "Toward what branch of the government does he justify it?", "answer")]),
    (CIV, "train", ["5036", ("9f01", "How long did she live in the tree?", "answer")]),
    ("Intergovernmental_Panel_on_Climate_Change", "train", ["919b", ("919c", "What nationality is he?", "answer")]),
    ("Imperialism", "train", ["c704", ("c705", "When was he appointed to President Wilson's Inquiry?", "answer")]),
    ("French_and_Indian_War", "train", ["12c4", ("12c7", "What fort did the British capture that year?", "answer")]),
    (BDS, "train", ["0302", ("9513", "What position does he play for the Denver Broncos?", "answer")]),
    (BDS, "train", ["826a", ("9533", "Which Super Bowl was hosted in San Diego that year?", "answer")]),
    (BDS, "train", ["032d", ("9225", "Where did their spring meetings take place?", "answer")]),
]

# more training conversations (written later, on training articles only): "it"/"its", "there", "he", "them" and
# a demonstrative after a question whose answer is what they point at, and "he" after a question naming another
YUAN, OXY, NCL2, IPCC, IMP, FIW = ("Yuan_dynasty", "Oxygen", "Newcastle_upon_Tyne",
                                  "Intergovernmental_Panel_on_Climate_Change", "Imperialism", "French_and_Indian_War")
SQUAD += [
    (NORM, "train", ["b5db", ("b5dc", "What culture did the Normans combine with there?", "answer")]),
    (NORM, "train", ["25c5", ("25c7", "When was that battle?", "answer")]),
    (ML, "train", ["5c56", ("5c57", "How did he describe it?", "answer")]),
    (ML, "train", ["72ec", ("72ed", "When was Luther called by him to Wittenberg?", "answer")]),
    (SKY, "train", ["7db0", ("7db2", "What year did it acquire Sky Italia?", "answer")]),
    (HUG, "train", ["f909", ("f90b", "Who was the first Huguenot to arrive there?", "answer")]),
    (HUG, "train", ["f983", ("f984", "How many refugees emigrated there?", "answer")]),
    (OXY, "train", ["9caa", ("4fbd", "What is its atomic number?", "answer")]),
    (BD, "train", ["80c6", ("80c8", "Who was it named for?", "answer")]),
    (NCL2, "train", ["71b1", ("71b3", "What was its estimated population around the 2nd century?", "answer")]),
    (CIV, "train", ["8637", ("8639", "What is he trying to stop Antigone from doing in the play?", "answer")]),
    (YUAN, "train", ["a347", ("a348", "When did he die?", "answer")]),
    (YUAN, "train", ["a32a", ("a32b", "What was its capital?", "answer")]),
    (IMP, "train", ["61a5", ("61a8", "What does it mean in English?", "answer")]),
    (FIW, "train", ["6546", ("6547", "What issues were not addressed in it?", "answer")]),
    (IPCC, "train", ["91ba", ("91b7", "How many of them does an IPCC report chapter have?", "answer")]),
]

SEED = [
    [S(SENT, ["12,000"]), F("And this year?", "How many more North Korean soldiers did Pyongyang send this year?",
                            ["3,000"], "ellipsis"), S("Who wrote this article?", ["Dasl Yoon"])],
    [S("According to Ukrainian officials, how many North Korean soldiers were sent to Russia last fall?", ["12,000"]),
     F("And according to Seoul?", "According to Seoul officials, how many more soldiers did Pyongyang send this year?",
       ["3,000"], "ellipsis")],
    [S("How many of the North Korean troops were killed or wounded?", ["a third"]),
     F("What is the source?", "According to whom were a third of the North Korean troops killed or wounded?",
       ["Ukrainian officials"], "ellipsis")],
    [S("When did the Kremlin claim it had regained control of the Kursk region?", ["Saturday"]),
     F("Who praised the North Korean fighters that day?",
       "Who praised the North Korean fighters on Saturday during a video call with Putin?", ["Gerasimov"], "answer")],
    [S("Which Russian region was partly occupied by Ukrainian troops last summer?", ["Kursk"]),
     F("When did Ukrainian forces retreat from there?", "When did Ukrainian forces retreat from Kursk?", ["March"],
       "answer"),
     F("Who praised the North Korean troops for their role in it?",
       "Who praised the North Korean troops for their role in Kursk?", ["Putin"], "pronoun")],
    [S("Where were most of the North Korean troops deployed?", ["Kursk"]),
     F("Who occupied part of it last summer?", "Who partly occupied the Kursk region last summer?",
       ["Ukrainian troops"], "answer")],
    [S("Who said acknowledging the troops lets Putin claim Russia was under attack?", ["Hong Min"]),
     F("Where does he work?", "Where does Hong Min work?", ["Korea Institute for National Unification"], "answer"),
     F("What kind of organisation is it?", "What kind of organisation is the Korea Institute for National "
       "Unification?", ["think tank"], "answer")],
    [S("Who is the leader of North Korea?", ["Kim Jong Un"]),
     F("When did he sign the mutual-defense pact with Putin?", "When did Kim Jong Un sign the mutual-defense pact "
       "with Putin?", ["last year", "last June"], "answer"),
     S("What has Pyongyang provided to Russia?", ["artillery shells"]),
     F("When is he expected in Russia?", "When is Kim Jong Un expected to visit Russia?", ["this year"], "return")],
    [S("What has Pyongyang provided to Russia?", ["artillery shells"]),
     F("What have its troops gained?", "What have North Korean troops gained in Russia?", ["battlefield experience"],
       "pronoun"), S("Who wrote this article?", ["Dasl Yoon"])],
    [S("When did North Korea admit to casualties?", ["Monday"]),
     F("What did it promise for the fallen soldiers?", "What did North Korea promise for the fallen soldiers?",
       ["monument"], "pronoun"),
     F("Where?", "Where will North Korea's monument for the fallen soldiers be?", ["Pyongyang"], "ellipsis")],
    [S("Besides Kursk, which other Russian region does Ukraine say its troops are in?", ["Belgorod"]),
     S("Who said Ukraine is maintaining its presence on Russian territory?", ["Zelensky"]),
     F("When did he say that?", "When did Zelensky say Ukraine is maintaining its presence on Russian territory?",
       ["Sunday"], "answer")],
    [S("What did Gerasimov praise the North Korean fighters for?", ["helping defeat Ukrainian forces"]),
     F("What is his job?", "What is Valery Gerasimov's job?", ["chief of the general staff"], "pronoun"),
     S("How many North Korean soldiers were killed or wounded?", ["a third"]),
     F("What is the source?", "According to whom were a third of the North Korean soldiers killed or wounded?",
       ["Ukrainian officials"], "ellipsis")],
    [S("When did Russia and North Korea sign the mutual-defense agreement?", ["last June"]),
     F("What has Pyongyang provided since then?", "What has Pyongyang provided to Russia since last June?",
       ["artillery shells"], "answer")],
    [S(SENT, ["12,000"]),
     F("Where were most of them deployed?", "Where were most of the North Korean troops deployed?", ["Kursk"],
       "pronoun")],
    [S("Who said the public confirmation could mean Kim is prepared to send more troops?", ["Hong"]),
     F("What does he say the blood alliance guards against?", "What did Hong Min say the emphasis on the blood "
       "alliance guards against?", ["weakening of relations"], "answer")],
    [S("Who praised the North Korean troops on the Kremlin website?", ["Putin"]),
     F("When?", "When did Putin praise the North Korean troops on the Kremlin website?", ["Monday"], "ellipsis")],
    [S("Who captured the North Korean soldier in the photo?", ["Ukrainians"]),
     F("Where was he held?", "Where was the captured North Korean soldier held?", ["Kyiv"], "pronoun")],
    [S("What did Ukrainian officials hope the seized Russian territory would give Kyiv?", ["leverage in peace talks"]),
     F("When did they seize it?", "When did Ukraine seize the Russian territory?", ["last August"], "pronoun"),
     S("Where does Hong Min work?", ["Korea Institute for National Unification"])],
]


def main(squad_dir: Path) -> None:
    data = json.loads((squad_dir / "dev-v1.1-part.json").read_text(encoding="utf-8"))
    ids = {a["title"]: [q["id"] for p in a["paragraphs"] for q in p["qas"]] for a in data["data"]}

    def full_id(article: str, suffix: str) -> str:
        hits = [i for i in ids[article] if i.endswith(suffix)]
        if len(hits) != 1:
            raise SystemExit(f"{article}:{suffix} matches {len(hits)} question ids")
        return hits[0]

    out = []
    counts: dict = {}
    for article, split, turns in SQUAD:
        counts[article] = counts.get(article, 0) + 1
        rows = []
        for t in turns:
            if isinstance(t, str):
                art, _, suffix = t.rpartition(":")
                rows.append({"qid": full_id(art or article, suffix), "depends": False})
            else:
                rows.append({"ask": t[1], "qid": full_id(article, t[0]), "depends": t[2] != "standalone",
                             **({"kind": t[2]} if t[2] != "standalone" else {})})
        out.append({"id": f"{article}-{counts[article]:02d}", "corpus": "squad-dev", "article": article,
                    "split": split, "turns": rows})
    (HERE / "conversations_squad.jsonl").write_text("".join(json.dumps(c) + "\n" for c in out), encoding="utf-8")
    seed = [{"id": f"seed-{i:02d}", "corpus": "seeds", "article": "seed", "split": "seed", "turns": t}
            for i, t in enumerate(SEED, 1)]
    (HERE / "conversations_seed.jsonl").write_text("".join(json.dumps(c) + "\n" for c in seed), encoding="utf-8")
    print(f"{len(out)} SQuAD conversations ({sum(c['split'] == 'validation' for c in out)} validation), "
          f"{len(seed)} seed-article conversations")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else HERE.parent.parent / "shared" / "data" / "squad-dev"))
