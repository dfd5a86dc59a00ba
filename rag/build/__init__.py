"""Build or refresh an index: read and chunk in a thread (reading), embed (vectors), store (builder), with
progress on stderr (progress); adding and removing documents of a built index (documents).
"""
