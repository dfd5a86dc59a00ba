"""Plain-text analysis shared by every stage: sentences and token-bounded chunks (chunk), question and
sentence terms, answer types and sentence kinds (evidence), cleaning text for reading (display).
Imports nothing of rag but errors and config.
"""

from rag.text.clean import plain

__all__ = ["plain"]
