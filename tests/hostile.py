"""A generated hostile corpus: every kind of file that once crashed, hung or polluted an index.

make_hostile_corpus(root) writes it under root/corpus (and a secret file under root/outside)
and returns a Hostile record saying what each category's files are called, so tests can check
each one's fate. Office bombs (tests/bombs.py) are refused by their real expansion, their
converter's memory limit (build with convert_memory_mb=CONVERT_MEMORY_MB) or time limit
(convert_timeout=CONVERT_TIMEOUT); a hard link to the outside secret is skipped; RACE is a file
the build script swaps for a link to the secret between the walk and the read (swap_race). Nothing is committed: the corpus is made afresh, in a second or two, from a
fixed random seed. The 6 GB file is sparse (no disk used); the FIFO and socket are real.
"""
from __future__ import annotations

import io
import os
import random
import socket
from dataclasses import dataclass, field
from pathlib import Path

import bombs
from filemakers import make_pdf

SECRET = "zq-outside-secret-7731"
SPARSE_BYTES = 6 * 1024**3
CONVERT_MEMORY_MB = 150     # what the hostile build gives each conversion
CONVERT_TIMEOUT = 4.0
RACE = "race/swapped.txt"
WORDS = ("river stone garden window table chair lamp harbor village engineer museum railway "
         "contract budget committee mountain valley bridge market school").split()
TEXT_SUFFIXES = (".txt", ".md", ".html", ".htm")
BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")   # a random file starting with one is declared text


@dataclass
class Hostile:
    corpus: Path
    outside: Path
    good: dict = field(default_factory=dict)        # id -> (question, distinctive word)
    wide: dict = field(default_factory=dict)        # id -> distinctive word (UTF-16/32 with BOM)
    binary: list = field(default_factory=list)      # ids of random binary files
    outside_links: list = field(default_factory=list)
    loops: list = field(default_factory=list)
    folder_links: list = field(default_factory=list)
    special: dict = field(default_factory=dict)     # id -> "FIFO" | "socket" | ...
    pdf_bad: dict = field(default_factory=dict)     # id -> expected words in the reason
    too_large: str = ""
    long_line: str = ""
    odd_names: dict = field(default_factory=dict)   # id (as indexed) -> distinctive word
    collision: str = ""
    html: dict = field(default_factory=dict)        # id -> distinctive word
    pdf_warned: str = ""
    office_bad: dict = field(default_factory=dict)   # id -> expected start of the reason
    hard_link: str = ""
    sockets: list = field(default_factory=list)     # open sockets, closed by close()

    def close(self):
        for s in self.sockets:
            s.close()


def peak_kb() -> int:
    """This process's peak resident memory in kB: VmHWM, which starts afresh at exec (ru_maxrss
    does not: on Linux it keeps the parent's peak across fork and exec, e.g. pytest's loaded model)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _sentence(rng, word=None):
    words = [rng.choice(WORDS) for _ in range(rng.randint(5, 12))]
    if word:
        words.insert(rng.randrange(len(words)), word)
    return words[0].capitalize() + " " + " ".join(words[1:]) + "."


def make_hostile_corpus(root: Path, *, n_good: int = 400, n_binary: int = 560, n_wide: int = 45,
                        long_line_mb: float = 3.0, seed: int = 10) -> Hostile:
    rng = random.Random(seed)
    root = Path(root)
    corpus, outside = root / "corpus", root / "outside"
    corpus.mkdir(parents=True)
    outside.mkdir()
    h = Hostile(corpus, outside)

    # good documents, each with one distinctive fact
    for i in range(n_good):
        word = f"fact{i:04d}word"
        name = f"good/{i % 10}/doc{i:04d}.{'md' if i % 3 else 'txt'}"
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        body = " ".join(_sentence(rng) for _ in range(rng.randint(3, 8)))
        fact = f"The registry code of the {rng.choice(WORDS)} office is {word}."
        (corpus / name).write_text(f"Document {i}\n\n{body} {fact} {_sentence(rng)}\n", encoding="utf-8")
        h.good[name] = (f"What is the registry code {word}?", word)

    # random binary files with text extensions, tiny to large
    sizes = (16, 64, 512, 4096, 65536)
    for i in range(n_binary):
        data = bytearray(rng.randbytes(sizes[i % len(sizes)]))
        while any(data.startswith(b) for b in BOMS):
            data[0] = rng.randrange(256)
        name = f"binary/blob{i:03d}{TEXT_SUFFIXES[i % len(TEXT_SUFFIXES)]}"
        (corpus / name).parent.mkdir(exist_ok=True)
        (corpus / name).write_bytes(bytes(data))
        h.binary.append(name)

    # UTF-16 and UTF-32 with a byte-order mark: must be indexed
    (corpus / "wide").mkdir()
    for i in range(n_wide):
        word = f"wide{i:03d}term"
        enc = ("utf-16", "utf-16-be", "utf-32")[i % 3]
        text = f"Wide encoded note {i}\n\n{_sentence(rng)} The café code is {word}. Ünïcödé ✓ 文件.\n"
        data = text.encode(enc)
        if enc == "utf-16-be":
            data = b"\xfe\xff" + data
        name = f"wide/note{i:03d}-{enc}.txt"
        (corpus / name).write_bytes(data)
        h.wide[name] = word

    # links out of the folder, to devices, loops, folders
    (outside / "secret.txt").write_text(f"The secret is {SECRET}.\n", encoding="utf-8")
    (outside / "folder").mkdir()
    (outside / "folder" / "inner.txt").write_text(f"Inner {SECRET}.\n", encoding="utf-8")
    (corpus / "links").mkdir()
    for name, target in (("links/passwd.txt", "/etc/passwd"), ("links/secret.txt", outside / "secret.txt"),
                         ("links/relative-secret.md", "../../outside/secret.txt"),
                         ("links/zero.txt", "/dev/zero"), ("links/urandom.txt", "/dev/urandom")):
        (corpus / name).symlink_to(target)
        h.outside_links.append(name)
    (corpus / "links/loop-a.txt").symlink_to("loop-b.txt")
    (corpus / "links/loop-b.txt").symlink_to("loop-a.txt")
    (corpus / "links/self.txt").symlink_to("self.txt")
    h.loops += ["links/loop-a.txt", "links/loop-b.txt", "links/self.txt"]
    (corpus / "links/up").symlink_to("..")                     # a loop through a folder
    (corpus / "links/outside-folder").symlink_to(outside / "folder")
    (corpus / "links/good-folder").symlink_to(corpus / "good")
    h.folder_links += ["links/up", "links/outside-folder", "links/good-folder"]
    (corpus / "links/inside.txt").symlink_to("../good/0/doc0000.txt")   # stays inside: indexed

    (corpus / "special").mkdir()
    os.mkfifo(corpus / "special/pipe.txt")
    h.special["special/pipe.txt"] = "FIFO"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(corpus / "special/sock.txt"))
    h.sockets.append(sock)
    h.special["special/sock.txt"] = "socket"

    # a sparse file far over the limit, and a long single line under it
    with open(corpus / "huge-sparse.txt", "wb") as f:
        f.truncate(SPARSE_BYTES)
    h.too_large = "huge-sparse.txt"
    line, size = [], 0
    while size < long_line_mb * 1_000_000:
        s = _sentence(rng) + " "
        line.append(s)
        size += len(s)
    line.append("The long line ends with the word longlinefinale.")
    (corpus / "one-long-line.txt").write_text("".join(line), encoding="utf-8")
    h.long_line = "one-long-line.txt"

    # names: not UTF-8, odd, and a collision once made safe
    raw = os.fsencode(corpus) + b"/names/"
    os.mkdir(raw)
    for name_bytes, indexed_as, word in (
            (b"caf\xe9 latin1.txt", "names/caf%E9 latin1.txt", "latinnameword"),
            (b"\xff\xfe\xfd.md", "names/%FF%FE%FD.md", "rawbytesword"),
            (b"spaces in  name.txt", "names/spaces in  name.txt", "spacesword"),
            ("r\u00e9sum\u00e9 \u6587\u4ef6 \U0001f600.txt".encode(), "names/r\u00e9sum\u00e9 \u6587\u4ef6 \U0001f600.txt",
             "unicodeword"),
            (b"line\nbreak.txt", "names/line%0Abreak.txt", "newlineword"),
            (b"tab\there.md", "names/tab%09here.md", "tabword"),
            (b"L" * 240 + b".txt", "names/" + "L" * 240 + ".txt", "longnameword")):
        with open(raw + name_bytes, "w", encoding="utf-8") as f:
            f.write(f"Odd name file.\n\n{_sentence(rng)} Its marker is {word}.\n")
        h.odd_names[indexed_as] = word
    with open(raw + b"caf%E9 latin1.txt", "w", encoding="utf-8") as f:   # same safe id as caf\xe9
        f.write("A file spelled with a literal percent sign.\n")
    h.collision = "names/caf%E9 latin1.txt"
    # the as-is spelling wins, so the indexed one is the literal-percent file
    h.odd_names.pop("names/caf%E9 latin1.txt")

    # PDFs: empty, no pages, blank page, truncated, encrypted, corrupt; one read with warnings
    import pypdf

    def written(writer):
        buf = io.BytesIO()
        writer.write(buf)
        return buf.getvalue()

    (corpus / "pdf").mkdir()
    good_pdf = make_pdf(["The PDF fact is pdfgoodword.", "Second line."], title="Good PDF")
    (corpus / "pdf/good.pdf").write_bytes(good_pdf)
    h.odd_names["pdf/good.pdf"] = "pdfgoodword"
    enc = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(make_pdf(["Encrypted pdfsecretword."]))))
    enc.encrypt("password")
    blank = pypdf.PdfWriter()
    blank.add_blank_page(612, 792)
    for name, data, why in (("pdf/empty.pdf", b"", "empty"), ("pdf/no-pages.pdf", written(pypdf.PdfWriter()), "no pages"),
                            ("pdf/blank.pdf", written(blank), "no text"),
                            ("pdf/truncated.pdf", good_pdf[: len(good_pdf) // 2], "unreadable PDF"),
                            ("pdf/encrypted.pdf", written(enc), "encrypted"),
                            ("pdf/garbage.pdf", rng.randbytes(2048), "unreadable PDF")):
        (corpus / name).write_bytes(data)
        h.pdf_bad[name] = why
    warned = make_pdf(["The warned PDF fact is pdfwarnedword."])
    (corpus / "pdf/warned.pdf").write_bytes(warned.replace(b"startxref\n", b"startxref\n9"))
    h.pdf_warned = "pdf/warned.pdf"
    h.odd_names["pdf/warned.pdf"] = "pdfwarnedword"

    # HTML: unclosed title, deep nesting
    (corpus / "html").mkdir()
    (corpus / "html/unclosed-title.html").write_text(
        "<html><head><title>Unclosed title<body><h1>Heading</h1><p>The page fact is untitledpageword.</p>"
        "</body></html>", encoding="utf-8")
    h.html["html/unclosed-title.html"] = "untitledpageword"
    depth = 50_000
    (corpus / "html/deep.htm").write_text(
        "<html><body>" + "<div><span>" * depth + "The deep fact is deepnestword." + "</span></div>" * depth
        + "</body></html>", encoding="utf-8")
    h.html["html/deep.htm"] = "deepnestword"

    # office files: compression bombs, lying size headers, over the memory and time limits
    (corpus / "office").mkdir()
    for name, data, why in (
            ("office/xml-bomb.docx", bombs.docx_xml_bomb(40), ("Word document member 'word/document.xml' expands "
                                                               "more than 200 times")),
            ("office/lying-header.docx", bombs.docx_lying_header(40), "unreadable Word document (BadZipFile: Bad CRC"),
            ("office/lying-two.docx", bombs.zip_lying_header(40), "unreadable Word document (BadZipFile: Bad CRC"),
            ("office/dense.docx", bombs.docx_dense(12), f"needs more than {CONVERT_MEMORY_MB:g} MB of memory"),
            ("office/huge.xlsx", bombs.xlsx_huge(100_000), f"conversion took longer than {CONVERT_TIMEOUT:g} s"),
            ("office/nested.xlsx", bombs.xlsx_nested(100_000), "no text found")):
        (corpus / name).write_bytes(data)
        h.office_bad[name] = why
    (corpus / "office/long.docx").write_bytes(bombs.docx_paragraphs(10_000))   # read: 10,000 paragraphs

    # a hard link to the secret outside, and a file swapped for a link to it after the walk
    os.link(outside / "secret.txt", corpus / "links/hard-secret.txt")
    h.hard_link = "links/hard-secret.txt"
    (corpus / "race").mkdir()
    (corpus / RACE).write_text("An innocent file, swapped for a link while the build runs.\n", encoding="utf-8")
    return h


def swap_race(corpus: Path) -> None:
    """Replace RACE with a link to the outside secret (call it between the walk and the read)."""
    corpus = Path(corpus)
    (corpus / RACE).unlink()
    (corpus / RACE).symlink_to(corpus.parent / "outside" / "secret.txt")
