"""Errors the library raises on purpose. Each message says what to do next.

The CLI prints ``str(error)`` on one line and exits non-zero; it never shows a
traceback for these.
"""


class RagError(Exception):
    """Base class for every error this package raises deliberately."""


class CorpusError(RagError):
    """The corpus folder is missing, unreadable, or holds no usable document."""


class IndexMissingError(RagError):
    """No built index where one was expected."""


class IndexMismatchError(RagError):
    """The index on disk was built with other settings, a different model or format."""


class IndexCorruptError(RagError):
    """The index files disagree with their manifest or cannot be parsed."""


class ModelError(RagError):
    """The embedding model could not be loaded offline."""


class QuestionError(RagError):
    """The question cannot be answered as asked (for example, it is empty)."""


class DependencyError(RagError):
    """An optional package is missing; the message names the install command."""


class IndexLockedError(RagError):
    """Another process is writing the index; the message names it and says to retry."""


class QueueFullError(RagError):
    """Too many uploads are waiting to be indexed in this process; the message says how many and to retry."""


class DocumentError(RagError):
    """No such document in the index, or it cannot be removed."""


class ConversationError(RagError):
    """No such saved conversation for this user (another user's id is the same as none), or the store
    cannot be written."""


class UsersError(RagError):
    """The users file cannot be read or written, or a user name or password is not acceptable."""
