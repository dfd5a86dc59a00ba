"""From ranked passages to an Answer: the Answer type and the Answerer interface (base), the extractive
answerer (extractive) with its short answers (short_answer), multi-sentence answers (multi_sentence),
follow-up questions (followup), example questions (examples) and the feedback log (feedback).
"""
