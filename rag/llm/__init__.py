"""Generated answers: an OpenAI-compatible client (client), the grounded prompt (prompt), the claim checker
(claims) and the Answerer that puts them together (answerer).
"""
