"""From a corpus folder to plain text: the safe walk (walk), reading one file (read), the converters for
office formats, HTML and e-books (convert) and PDF (pdf), and the slow-file watchdog (watchdog).
"""
from rag.ingest.converters import LEGACY, SUPPORTED  # noqa: E402,F401 - the file types read, for the edge (ui/)
