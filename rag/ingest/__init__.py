"""From a corpus folder to plain text: the safe walk (walk), reading one file (read), the converters for
office formats, HTML and e-books (convert) and PDF (pdf), and the slow-file watchdog (watchdog).
"""
