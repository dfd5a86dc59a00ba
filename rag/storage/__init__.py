"""The on-disk index: immutable segments (segments, vector_rows, dense, lexical) behind a checked pointer;
writer and reader, the one-writer lock (lock), the checks a loaded version must pass (integrity), the
settings an index was built with (settings) and the reader that follows new versions (live).
"""
