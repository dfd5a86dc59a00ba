"""The ``rag`` command: ``index``, ``ask``, ``chat``, ``eval``, ``serve``, ``docs``/``add``/``remove``
(document management, rag.build.documents) and ``users`` (accounts for ``rag serve``, rag.users) over the library.

``rag ask`` first looks for a ``rag serve`` running over the same index (rag.discovery) and asks it
(about 0.1-0.3 s instead of loading the model); ``--local`` or any setting the server may not share
(--llm, --model, --backend, a different reader setting) loads the index here as before. The library
(rag.assemble, the model) is imported only by the commands that need it.

Library errors print as one line (``error: ...``) with exit status 1; warnings
about skipped files print as ``warning: FILE: reason``. Set RAG_DEBUG=1 to see
tracebacks of unexpected errors.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from rag.config import BACKENDS, CHUNK_VECTORS, MODES, SENTENCE_VECTORS, Config
from rag.errors import IndexMissingError, RagError


class _Assemble:
    """rag.assemble, imported on first use (a `rag ask` answered by a running server never needs it)."""

    def __getattr__(self, name):
        from rag import assemble as module

        return getattr(module, name)


assemble = _Assemble()

SKIPPED_LISTED = 10   # skipped files listed one by one; above this, counts by reason and the first few


# command-line option -> Config field, with how its value is read (options left unset keep the defaults)
_OPTIONS = (("index", "index_dir", Path), ("corpus", "corpus_dir", Path), ("model", "model", str),
            ("max_file_mb", "max_file_mb", float), ("backend", "backend", str),
            ("sentence_vectors", "sentence_vectors", str), ("chunk_vectors", "chunk_vectors", str),
            ("upload_max_mb", "upload_max_mb", float),
            ("upload_types", "upload_types", lambda v: tuple(v.replace(",", " ").split())),
            ("device", "device", str), ("convert_memory_mb", "convert_memory_mb", float),
            ("convert_timeout", "convert_timeout", float), ("allow_hard_links", "allow_hard_links", bool),
            ("reader", "reader", bool), ("users", "users_file", Path), ("chats_db", "chats_db", Path))


def _config(args) -> Config:
    given = {}
    for option, field, read in _OPTIONS:
        value = getattr(args, option, None)
        if value is not None and value != "":
            given[field] = read(value)
    config = Config(**given)   # (not replace(Config(), ...): unset fields get their defaults for the given ones, e.g. the backend for --device)
    return _llm_config(args, config)


def _llm_config(args, config: Config) -> Config:
    """Generated answers when --llm [URL] or --llm-url is given (URL default $RAG_LLM_URL)."""
    llm, url = getattr(args, "llm", None), getattr(args, "llm_url", None)
    if llm is not None and "://" not in llm and getattr(args, "question", "") is None:
        args.question, llm = llm, ""   # `rag ask --llm "question"`: the bare flag, then the question
    if llm is None and url is None:
        return config
    config = replace(config, llm_url=url or llm or os.environ.get("RAG_LLM_URL", ""))
    if getattr(args, "llm_model", None):
        config = replace(config, llm_model=args.llm_model)
    if getattr(args, "llm_key", None):
        config = replace(config, llm_key=args.llm_key)
    if getattr(args, "llm_timeout", None) is not None:
        config = replace(config, llm_timeout=args.llm_timeout)
    if getattr(args, "llm_max_chars", None) is not None:
        config = replace(config, llm_max_chars=max(1, args.llm_max_chars))
    return config


def _llm_flags(p) -> None:
    p.add_argument("--llm", nargs="?", const="", metavar="URL",
                   help="generated answers from an OpenAI-compatible endpoint (default URL: $RAG_LLM_URL); "
                        "every sentence is checked against the passages; extractive answer if it fails")
    p.add_argument("--llm-url", metavar="URL", help="the endpoint's base URL (same as --llm URL)")
    p.add_argument("--llm-model", metavar="NAME", help="model name to ask for (default: $RAG_LLM_MODEL or 'default')")
    p.add_argument("--llm-key", metavar="KEY", help="API key (default: $RAG_LLM_KEY; prefer the variable)")
    p.add_argument("--llm-timeout", type=float, metavar="S",
                   help="seconds without data from the endpoint before falling back (default 30)")
    p.add_argument("--llm-max-chars", type=int, metavar="N",
                   help="longest generated answer kept, in characters; a longer one is cut with a notice (default 4000)")


def _explicit(args) -> dict:
    """The index settings given as flags (the others come from the index: rag.storage.settings)."""
    return {k: getattr(args, k) for k in ("model", "backend", "sentence_vectors", "chunk_vectors")
            if getattr(args, k, None)}


def _index_config(args, *, refuse: bool = True) -> Config:
    """_config(args) with the settings of the existing index (flags must agree unless not refuse)."""
    config = _config(args)
    try:
        return assemble.config_for_index(config.index_dir, _explicit(args), config, refuse=refuse)
    except RagError:
        if refuse and (config.index_dir / "CURRENT").exists():
            raise
        return config   # no usable index: built from the flags, or refused with the command


def _embedder(config: Config):
    return assemble.embedder(config)


def _build_embedder(config: Config, args):
    """The local embedder, or with --ray one that embeds on a Ray cluster (same interface)."""
    if getattr(args, "ray", None) is None:
        return _embedder(config)
    return assemble.embedder(config, ray=getattr(args, "ray", None), actors=getattr(args, "ray_actors", None),
                             ray_batch=getattr(args, "ray_batch_size", None))


def skipped_summary(skipped, limit: int = SKIPPED_LISTED) -> list[str]:
    """Lines about skipped files: all of them when few, else counts by reason and the first few."""
    if not skipped:
        return []
    if len(skipped) <= limit:
        return [f"skipped {len(skipped)} files:"] + [f"  {s.path}: {s.reason}" for s in skipped]
    reasons: dict[str, int] = {}
    for s in skipped:
        key = s.reason.split(" (")[0].split(":")[0]   # "too large (25.1 MB > 20 MB)" -> "too large"
        reasons[key] = reasons.get(key, 0) + 1
    lines = [f"skipped {len(skipped)} files:"]
    lines += [f"  {n} {reason}" for reason, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))]
    lines.append(f"first {min(5, len(skipped))}:")
    lines += [f"  {s.path}: {s.reason}" for s in skipped[:5]]
    return lines


def cmd_index(args) -> int:
    from rag.api import index, queued_uploads

    config = _index_config(args, refuse=False)
    recorded = None if args.corpus else assemble.recorded_corpus(config.index_dir)
    if recorded:   # `rag index --index I` refreshes I from the folder it was built from
        config = replace(config, corpus_dir=Path(recorded))
    embedder = _build_embedder(config, args)
    t0 = time.perf_counter()

    def answerable(counts):
        print(f"answerable now (keywords only until the vectors are done): {counts[0]} documents, "
              f"{counts[1]} chunks in {time.perf_counter() - t0:.1f}s; computing vectors...",
              file=sys.stderr, flush=True)
    try:
        r = index(config.corpus_dir, config.index_dir, rebuild=args.rebuild, max_file_mb=config.max_file_mb,
                  convert_memory_mb=config.convert_memory_mb, convert_timeout=config.convert_timeout,
                  allow_hard_links=config.allow_hard_links, embedder=embedder,
                  **dict(_explicit(args), backend=config.backend, device=config.device),
                  progressive=not args.no_partial, on_lexical=answerable)
    finally:
        embedder.close()   # a Ray cluster it started
    if not r.changed:
        print(f"nothing to do: {r.documents} documents unchanged ({r.chunks} chunks) in {r.index_dir}")
    else:
        print(f"indexed {r.documents} documents, {r.chunks} chunks, {r.sentences} sentences "
              f"into {r.index_dir} in {r.seconds:.1f}s "
              f"(added {len(r.added)}, updated {len(r.updated)}, removed {len(r.removed)})")
    for line in skipped_summary(r.skipped):
        print(line)
    waiting = queued_uploads(config.index_dir)
    if waiting:
        print(f"{len(waiting)} file(s) uploaded through `rag serve` wait in {config.index_dir / 'queued'} to be "
              f"indexed ({', '.join(waiting[:3])}{' ...' if len(waiting) > 3 else ''}): a running server indexes "
              "them in turn; if none runs, `rag serve` does when it starts")
    return 0


def _no_index_hint(exc: IndexMissingError, args) -> IndexMissingError:
    """The "no index" error naming the user's folder: the --corpus or $RAG_CORPUS given, the corpus the
    default index is built from, else a placeholder for the folder of their documents (never this
    project's seeds/ for an index of theirs)."""
    import shlex

    from rag.config import CHECKOUT, default_index

    try:
        config = _config(args)
    except (RagError, ValueError):
        return exc
    given = getattr(args, "corpus", None) or os.environ.get("RAG_CORPUS")
    if given or config.index_dir == default_index() or not str(exc).startswith("no index at"):
        return exc
    cwd = Path.cwd()
    folder = "YOUR_FOLDER" if CHECKOUT and (cwd == CHECKOUT or CHECKOUT in cwd.parents) else str(cwd)
    command = shlex.join(["rag", "index", folder, "--index", str(config.index_dir)])
    where = " (YOUR_FOLDER: the folder of your documents)" if folder == "YOUR_FOLDER" else \
        " (or name the folder of your documents instead of the current one)"
    return IndexMissingError(f"no index at {config.index_dir}: build one with: {command}{where}")


def _served(args, config: Config):
    """(server record, base URL) of a `rag serve` over config's index that this ask may reuse, else None."""
    if getattr(args, "local", False) or config.llm_url is not None or _explicit(args) \
            or getattr(args, "within", None) or getattr(args, "types", None):   # a scope is resolved here
        return None
    from rag import discovery

    record = discovery.find(config.index_dir)
    if record is None or record.get("generated") or bool(record.get("reader", True)) != bool(config.reader):
        return None
    host = record.get("host") or "127.0.0.1"
    return record, f"http://{'[' + host + ']' if ':' in host else host}:{record['port']}"


def ask_server(args, config: Config):
    """The answer JSON from a running `rag serve` over the same index, or None (none, or it did not answer:
    the caller loads the index itself). A refused question is a QuestionError, as locally."""
    import http.client
    from urllib.parse import urlsplit

    from rag import discovery
    from rag.errors import QuestionError

    found = _served(args, config)
    if found is None:
        return None
    record, url = found
    body = json.dumps({k: v for k, v in (("question", args.question), ("k", args.k), ("mode", args.mode))
                       if v is not None}).encode()
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    try:
        conn.request("POST", "/api/ask", body=body, headers={
            "Content-Type": "application/json", discovery.HEADER: record["token"]})
        resp = conn.getresponse()
        data = json.loads(resp.read() or b"null")
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        conn.close()
    if resp.status == 400 and isinstance(data, dict) and isinstance(data.get("error"), str):
        raise QuestionError(data["error"])
    return data if resp.status == 200 and isinstance(data, dict) and "answer" in data else None


class _Shown:
    """An answer JSON (Answer.to_json) read back as the attributes print_answer uses."""

    def __init__(self, data: dict):
        from types import SimpleNamespace

        self.text, self.notice = data.get("answer", ""), data.get("notice")
        self.generated, self.supported_share = bool(data.get("generated")), data.get("supported_share")
        self.claims = data.get("claims") or []
        self.citations = [SimpleNamespace(**c) for c in data.get("citations") or []]
        self.passages = [SimpleNamespace(**p) for p in data.get("passages") or []]


def cmd_ask(args) -> int:
    from rag.question import check

    t0 = time.perf_counter()
    config = _config(args)
    check(args.question, args.k, args.mode, config=config)   # fail fast, before loading anything
    data = ask_server(args, config)
    if data is not None:
        if args.json:
            data["seconds"] = round(time.perf_counter() - t0, 3)
            print(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            print_answer(_Shown(data))
        return 0
    _setup()
    from rag.api import open_default

    config = _index_config(args)
    where = _where(args, config)   # a bad --in or --type fails before the model loads
    rag = open_default(config, embedder=_embedder(config))
    if config.llm_url is not None and not args.json:
        print_answer(stream_answer(rag, [{"role": "user", "content": args.question}], args.k, args.mode, where))
        return 0
    answer = rag.query(args.question, k=args.k, mode=args.mode, where=where)
    if args.json:
        print(json.dumps(answer_json(answer, t0), indent=2, ensure_ascii=False))
        return 0
    print_answer(answer)
    return 0


def answer_json(answer, started: float) -> dict:
    """What `rag ask --json` prints: Answer.to_json with the seconds since started (perf_counter)."""
    return answer.to_json(seconds=time.perf_counter() - started)


def _plain(text: str) -> str:
    """Text safe for a terminal: escape sequences and control characters (C0, DEL, C1 such as
    U+009B) removed, newlines and tabs kept."""
    from rag.text import plain
    return plain(text)


def _where(args, config: Config):
    """The scope of --in PATH (repeatable: a folder or file, absolute, relative to the current folder,
    or relative to the indexed folder) and --type EXT (repeatable), or None; RagError for a path
    outside the indexed folder."""
    from rag import Scope

    paths, types = getattr(args, "within", None) or [], getattr(args, "types", None) or []
    if not paths and not types:
        return None
    corpus = Path(assemble.recorded_corpus(config.index_dir) or config.corpus_dir).expanduser().resolve()
    folders = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_absolute() or path.exists():
            try:
                folders.append(path.resolve().relative_to(corpus).as_posix())
            except ValueError:
                raise RagError(f"--in {raw}: not inside the indexed folder {corpus}") from None
        else:
            folders.append(raw)   # relative to the indexed folder
    return Scope(folders=tuple(folders), types=tuple(t for v in types for t in v.replace(",", " ").split()))


def _scope_flags(p) -> None:
    p.add_argument("--in", dest="within", action="append", metavar="PATH",
                   help="answer only from this folder or file of the indexed folder; repeat for several")
    p.add_argument("--type", dest="types", action="append", metavar="EXT",
                   help="answer only from files of this type (pdf, docx, md...); repeat for several")


def stream_answer(rag, messages, k, mode, where=None):
    """Print the model's text as it arrives; return the final (checked) Answer."""
    answer, streamed = None, False
    for item in rag.chat_stream(messages, k=k, mode=mode, where=where):
        if isinstance(item, str):
            if rag.answerer.generated:
                print(_plain(item), end="", flush=True)
                streamed = True
        else:
            answer = item
    if streamed:
        print("\n\n--- checked against the passages ---" if answer.generated
              else "\n\n--- the model failed; extractive answer ---")
    return answer


def print_answer(answer) -> None:
    if answer.notice:
        print(f"note: {_plain(answer.notice)}")
    print(_plain(answer.text))
    print()
    if answer.generated and answer.supported_share is not None:
        n = len(answer.claims)
        print(f"Supported: {round(answer.supported_share * n)} of {n} sentences")
    print_sources(answer, nearest="Nearest passages:")


def cmd_chat(args) -> int:
    """A terminal conversation: follow-up questions are read against the conversation so far."""
    from rag.api import open_default

    config = _index_config(args)
    where = _where(args, config)
    rag = open_default(config, embedder=_embedder(config))
    history: list[dict] = []
    last = None
    print("Ask about the documents; /help lists the commands; /quit, an empty line or Ctrl-D ends the chat.")
    if where:
        print(f"Answering only from: {_plain(where.describe())}.")
    while True:
        try:
            line = input("> ").strip()
        except EOFError:
            print()
            return 0
        if not line:
            return 0
        command = chat_command(line)
        if command == "quit":
            return 0
        if command == "new":
            history, last = [], None
            print("New conversation: the next question is read on its own.")
            continue
        if command == "sources":
            print_sources(last) if last is not None else print("No answer yet: ask a question first.")
            continue
        if command is not None:   # /help, or an unknown command
            if command != "help":
                print(f"unknown command {line.split()[0]!r}")
            print(CHAT_HELP)
            continue
        try:
            answer = stream_answer(rag, history + [{"role": "user", "content": line}], args.k, args.mode, where)
        except RagError as exc:
            print(f"error: {exc}")
            continue
        print_answer(answer)
        last = answer
        history += [{"role": "user", "content": line}, {"role": "assistant", "content": answer.text}]


CHAT_HELP = """Commands (anything else is a question; follow-ups are read against the previous answer):
  /new      start a new conversation (forget the previous turns)
  /sources  show the sources of the last answer again
  /help     this list
  /quit     end the chat (so do an empty line and Ctrl-D)"""
CHAT_COMMANDS = ("new", "sources", "help", "quit")


def chat_command(line: str) -> str | None:
    """The command a chat line gives ("new", "sources", "help", "quit", or "?" for an unknown /word),
    or None for a question. Only a line starting with "/" is a command: "clear" is a question."""
    if not line.startswith("/") or line.startswith("//"):
        return None
    word = line[1:].split()[0].lower() if line[1:].split() else ""
    if word in ("exit", "q"):
        return "quit"
    return word if word in CHAT_COMMANDS else "?"


def print_sources(answer, nearest: str = "No source cited. Nearest passages:") -> None:
    """The cited sources of an answer, or its nearest passages under the line nearest."""
    if answer.citations:
        print("Sources:")
        for c in answer.citations:
            page = f"p. {c.page}, " if c.page else ""
            print(_plain(f"  [{c.marker}] {c.title} ({c.doc_id}, {page}characters {c.quote_start}-{c.quote_end}, "
                         f"score {c.score:.2f})"))
            print(_plain(f"      \"{c.quote}\""))
    else:
        print(nearest)
        for p in answer.passages[:3]:
            snippet = " ".join(p.text.split())[:160]
            page = f"p. {p.page}, " if p.page else ""
            print(_plain(f"  {p.rank}. {p.title} ({p.doc_id}, {page}score {p.score:.2f}): {snippet}..."))


def cmd_eval(args) -> int:
    from rag.evaluation import evaluate, format_report

    config = _config(args)
    if args.claims:   # the claim checker on the labelled set generated from SQuAD (rag.evaluation.claimset)
        from rag.evaluation import format_measure
        from rag.evaluation import measure_claims as measure

        embedder = _embedder(config)
        result = measure(args.dataset, lambda texts: embedder.encode(texts, progress=False))
        print(json.dumps(result, indent=2) if args.json else format_measure(result))
        return 0
    report = evaluate(args.dataset, split=args.split, modes=args.mode, config=config, limit=args.limit,
                      conversations=args.conversations, abstention=not args.no_abstention,
                      embedder=_embedder(config), llm_limit=args.llm_limit,
                      articles=_articles(args.articles) if args.articles else None)
    print(json.dumps(report.to_dict(), indent=2) if args.json else format_report(report))
    return 0


def _reader_flag(p) -> None:
    p.add_argument("--no-reader", dest="reader", action="store_const", const=False, default=None,
                   help="answer with the rules alone, without the learned readers ($RAG_READER=0)")


def _articles(value: str) -> set[str]:
    """--articles: "train"/"validation" (the reader's split, bench/reader_split.json) or titles, comma-separated."""
    from rag.evaluation import split_articles

    if value in ("train", "validation"):
        return split_articles(value)
    return {t.strip() for t in value.split(",") if t.strip()}


def _rag(args):
    from rag.api import Rag

    config = _index_config(args)
    return Rag(config, embedder=_embedder(config))


def cmd_docs(args) -> int:
    rag = _rag(args)
    docs, skipped = rag.documents(), rag.skipped()
    excluded = rag.removed()
    if args.json:
        from dataclasses import asdict

        print(json.dumps({"documents": [asdict(d) for d in docs], "skipped": [asdict(s) for s in skipped],
                          "excluded": excluded}, indent=2, ensure_ascii=False))
        return 0
    print(f"{len(docs)} documents in {rag.config.index_dir}:")
    for d in docs:
        pages = f", {d.pages} pages" if d.pages else ""
        print(f"  {d.id}  [{d.kind}, {d.size:,} bytes{pages}, {d.chunks} chunks, indexed {d.indexed_at}]  {d.title}")
    for line in skipped_summary(skipped, limit=len(skipped)):
        print(line)
    if excluded:
        print(f"{len(excluded)} removed from the index (files kept; `rag add PATH` includes one again):")
        for doc_id in excluded:
            print(f"  {_plain(doc_id)}")
    return 0


def cmd_add(args) -> int:
    rag = _rag(args)
    bar = assemble.Progress()
    try:
        result = rag.add_files(args.files, progress=PhaseReport(bar))
    finally:
        bar.end()
    for doc_id in result.added:
        print(f"added {doc_id}")
    for s in result.skipped:
        print(f"skipped {s.path}: {s.reason}")
    return 1 if result.skipped else 0


class PhaseReport:
    """rag.build.documents' progress(phase, done, total) calls onto one Progress: one phase per name (a
    repeated start of the same phase continues it), counts taken as given (absolute, never re-added)."""

    def __init__(self, bar):
        self.bar, self.name = bar, None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self.name:
            self.name = phase
            self.bar.phase(phase, total or None)
        elif total and self.bar.total != total:
            self.bar.total = total
        if done > self.bar.done:
            self.bar.advance(done - self.bar.done)


def cmd_remove(args) -> int:
    result = _rag(args).remove_document(args.doc_id, delete_upload=args.delete_upload)
    print(result.message)
    return 0


def _password(args, name: str) -> str:
    """The new password: one line of stdin with --password-stdin, else asked twice without echo."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass(f"password for {name}: ")
    if getpass.getpass("again: ") != first:
        raise RagError("the two passwords differ; nothing changed")
    return first


def cmd_users(args) -> int:
    from rag.users import Users

    users = Users(_config(args).users_path())
    if args.action == "list":
        names = users.names()
        print(f"{len(names)} users in {users.path}" + (":" if names else " (no login needed on 127.0.0.1)"))
        for name in names:
            print(f"  {name}")
        return 0
    if not args.name:
        raise RagError(f"name the user: rag users {args.action} NAME")
    if args.action == "remove":
        users.remove(args.name)
        print(f"removed {args.name} from {users.path}")
        return 0
    from rag.users import check_name

    check_name(args.name)   # before asking for a password
    new = users.add(args.name, _password(args, args.name))
    print(f"{'added' if new else 'changed the password of'} {args.name} in {users.path}"
          + (" (`rag serve` now asks every visitor to sign in)" if new and len(users.names()) == 1 else ""))
    return 0


def ui_package():
    """The web edge (the chat page, the HTTP API): the ui/ folder beside rag/ when there is one (a checkout,
    installed or not), imported as ``rag_ui``, its installed name; else the installed ``rag_ui``."""
    import importlib
    import importlib.util

    if "rag_ui" not in sys.modules:
        folder = Path(__file__).resolve().parent.parent / "ui"
        if (folder / "__init__.py").is_file():
            spec = importlib.util.spec_from_file_location("rag_ui", folder / "__init__.py",
                                                          submodule_search_locations=[str(folder)])
            module = importlib.util.module_from_spec(spec)
            sys.modules["rag_ui"] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules["rag_ui"]
                raise
    return importlib.import_module("rag_ui")


def cmd_serve(args) -> int:
    ui_package()
    from rag_ui.server import launch

    launch(_index_config(args), host=args.host, port=args.port, auth=args.auth, api_only=args.api_only,
           discover=not args.no_discovery)
    return 0


class _Version(argparse.Action):
    """--version: the package metadata is read only when asked (reading it costs a `rag ask` 0.1-0.4 s)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from rag.version import package_version

        parser._print_message(f"rag {package_version()}\n", sys.stdout)
        parser.exit()


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="rag", description="Ask questions of a folder of documents, offline.")
    ap.add_argument("--version", action=_Version, help="show the version and exit")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("index", help="build or refresh the index of a corpus folder")
    p.add_argument("corpus", nargs="?", help="folder of documents (default: the one an existing --index was built "
                   "from, else $RAG_CORPUS, else seeds/ in a checkout, else the current folder)")
    p.add_argument("--index", metavar="DIR", help="index folder (default: $RAG_INDEX, else index/default in the checkout or user data folder)")
    p.add_argument("--rebuild", action="store_true", help="re-embed everything")
    p.add_argument("--no-partial", action="store_true",
                   help="make the index current only once every vector is computed (default: answerable by "
                        "keywords as soon as the files are read, the vectors filled in after)")
    p.add_argument("--max-file-mb", type=float, metavar="N",
                   help="skip files larger than N MB, checked before reading (default 20)")
    p.add_argument("--convert-memory-mb", type=float, metavar="N",
                   help="memory one office file, e-book or PDF may take to convert (default 1000 or "
                        "$RAG_CONVERT_MEMORY_MB); a file over it is skipped")
    p.add_argument("--convert-timeout", type=float, metavar="S",
                   help="seconds one such file may take to convert (default 60 or $RAG_CONVERT_TIMEOUT)")
    p.add_argument("--allow-hard-links", action="store_true", default=None,
                   help="read files with more than one hard link (skipped by default: one may be a link to a "
                        "file outside the folder; or $RAG_ALLOW_HARD_LINKS=1)")
    p.add_argument("--model", help="sentence-transformers model name or local path")
    p.add_argument("--backend", choices=BACKENDS, help="how the model runs (default onnx or $RAG_BACKEND; an existing index keeps its own)")
    p.add_argument("--sentence-vectors", choices=SENTENCE_VECTORS,
                   help="encoded one by one (default) or pooled from the chunk pass (one encoder pass)")
    p.add_argument("--chunk-vectors", choices=CHUNK_VECTORS,
                   help="encoded in a pass of their own (default) or pooled from the sentence pass (one encoder pass)")
    p.add_argument("--device", choices=("cpu", "cuda"), help="torch device that runs the model (default cpu "
                   "or $RAG_DEVICE); with --ray, each actor takes one GPU")
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="embed on a Ray cluster: no value = ray.init() ($RAG_RAY_ADDRESS, a running local "
                        "cluster or a new one), 'auto', or ray://HEAD:10001 (needs: pip install 'rag-offline[ray]')")
    p.add_argument("--ray-actors", type=int, metavar="N",
                   help="Ray actors, one model each (default: the cluster's CPUs, or GPUs with --device cuda)")
    p.add_argument("--ray-batch-size", type=int, default=256, metavar="N", help="texts per actor call (default 256)")
    p.set_defaults(func=cmd_index)
    p = sub.add_parser("ask", help="answer a question with cited passages")
    p.add_argument("question", nargs="?")
    _reader_flag(p)
    p.add_argument("-k", type=int, default=None, help="passages to retrieve (default 5)")
    p.add_argument("--json", action="store_true", help="print the full answer as JSON")
    p.add_argument("--mode", choices=MODES, help="retrieval mode (default hybrid)")
    p.add_argument("--index", metavar="DIR", help="index folder (default: $RAG_INDEX or index/default)")
    p.add_argument("--model", help="model the index was built with (default: read from the index)")
    p.add_argument("--backend", choices=BACKENDS, help="backend the index was built with (default: read from the index)")
    p.add_argument("--local", action="store_true",
                   help="load the index here even when a `rag serve` over it is running (default: ask that server)")
    _scope_flags(p)
    _llm_flags(p)
    p.set_defaults(func=cmd_ask, light=True)
    p = sub.add_parser("chat", help="a conversation in the terminal (follow-up questions are read against it)")
    p.add_argument("-k", type=int, default=None, help="passages to retrieve (default 5)")
    p.add_argument("--mode", choices=MODES, help="retrieval mode (default hybrid)")
    p.add_argument("--index", metavar="DIR", help="index folder (default: $RAG_INDEX or index/default)")
    p.add_argument("--model", help="model the index was built with (default: read from the index)")
    p.add_argument("--backend", choices=BACKENDS, help="backend the index was built with (default: read from the index)")
    _scope_flags(p)
    _llm_flags(p)
    p.set_defaults(func=cmd_chat)
    p = sub.add_parser("eval", help="measure retrieval and answers on a BEIR-layout data set")
    p.add_argument("dataset", help="folder with corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv")
    p.add_argument("--split", default="test", help="qrels split (default: test)")
    p.add_argument("--mode", action="append", choices=MODES,
                   help="mode to evaluate; repeat for several (default: all four)")
    p.add_argument("--limit", type=int, help="evaluate only the first N queries")
    _reader_flag(p)
    p.add_argument("--articles", metavar="SPLIT|TITLES",
                   help="only questions of these SQuAD articles: 'validation' or 'train' (the reader's split, "
                        "rag/answer/models/passage_reader/manifest.json) or comma-separated titles as in paragraph ids")
    p.add_argument("--conversations", metavar="FILE",
                   help="two-turn conversations to measure follow-up accuracy (e.g. bench/conversations.jsonl)")
    p.add_argument("--no-abstention", action="store_true",
                   help="skip the not-found measurements (article removed, one-document corpora, SQuAD 2.0)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--model", help="sentence-transformers model name or local path")
    p.add_argument("--backend", choices=BACKENDS, help="how the model runs (default onnx or $RAG_BACKEND)")
    p.add_argument("--sentence-vectors", choices=SENTENCE_VECTORS,
                   help="encoded one by one (default) or pooled from the chunk pass (one encoder pass)")
    p.add_argument("--chunk-vectors", choices=CHUNK_VECTORS,
                   help="encoded in a pass of their own (default) or pooled from the sentence pass")
    p.add_argument("--claims", action="store_true",
                   help="measure the claim checker on a labelled set generated from this SQuAD folder")
    _llm_flags(p)
    p.add_argument("--llm-limit", type=int, default=100, metavar="N",
                   help="with --llm: generated answers for the first N queries (default 100; slow on CPU)")
    p.set_defaults(func=cmd_eval)
    p = sub.add_parser("serve", help="start the chat web page and the HTTP API")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1); any non-loopback address needs --auth")
    p.add_argument("--auth", metavar="USER:PASSWORD",
                   help="require this login (default: $RAG_AUTH; prefer the variable, argv is visible to ps)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--api-only", action="store_true",
                   help="serve only the HTTP API (/api, /v1), not the chat page (runs without Gradio)")
    p.add_argument("--users", metavar="FILE", help="accounts file (default: users.json in the index folder; "
                   "`rag users add NAME`); with any account, every visitor signs in")
    p.add_argument("--chats-db", metavar="FILE",
                   help="saved conversations (default: chats.sqlite3 in the index folder)")
    p.add_argument("--no-discovery", action="store_true",
                   help="do not write serve.json into the index folder (then `rag ask` does not reuse this server)")
    p.add_argument("--index", metavar="DIR", help="index folder (default: $RAG_INDEX or index/default)")
    p.add_argument("--corpus", metavar="DIR", help="corpus to build the default index from if it is missing")
    p.add_argument("--model", help="model the index was built with (default: read from the index)")
    p.add_argument("--backend", choices=BACKENDS, help="backend the index was built with (default: read from the index)")
    _llm_flags(p)
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("docs", help="list the indexed documents and the files skipped, with reasons")
    p.add_argument("--json", action="store_true", help="print them as JSON")
    p.add_argument("--index", metavar="DIR", help="index folder (default: $RAG_INDEX or index/default)")
    p.set_defaults(func=cmd_docs)
    p = sub.add_parser("add", help="copy files into the corpus (uploads/) and index them")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--index", metavar="DIR", help="index folder (default: $RAG_INDEX or index/default)")
    p.add_argument("--corpus", metavar="DIR", help="corpus folder, if the index does not name one")
    p.add_argument("--upload-max-mb", type=float, metavar="N",
                   help="refuse files larger than N MB (default 20 or $RAG_UPLOAD_MAX_MB)")
    p.add_argument("--upload-types", metavar="EXT,...",
                   help="accepted types, e.g. pdf,docx,md (default: all supported, or $RAG_UPLOAD_TYPES)")
    p.set_defaults(func=cmd_add)
    p = sub.add_parser("remove", help="drop a document from the index (its file is kept; `rag index` leaves it out)")
    p.add_argument("doc_id", metavar="DOC_ID", help="the document id, as `rag docs` lists it")
    p.add_argument("--delete-upload", action="store_true",
                   help="also delete the file if rag stored it (an upload); files of your folder are never deleted")
    p.add_argument("--index", metavar="DIR", help="index folder (default: $RAG_INDEX or index/default)")
    p.add_argument("--corpus", metavar="DIR", help="corpus folder, if the index does not name one")
    p.set_defaults(func=cmd_remove)
    p = sub.add_parser("users", help="accounts for `rag serve`: add (or change the password of), remove, list")
    p.add_argument("action", choices=("add", "remove", "list"))
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from one line of standard input (scripts, tests) instead of asking")
    p.add_argument("--users", metavar="FILE", help="accounts file (default: users.json in the index folder)")
    p.add_argument("--index", metavar="DIR", help="index folder (default: $RAG_INDEX or index/default)")
    p.set_defaults(func=cmd_users, light=True)
    return ap


def _setup() -> None:
    """Offline switches for the model libraries, and warnings printed through the progress bar."""
    assemble.offline_env()
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s",
                        handlers=[assemble.LogHandler(sys.stderr)])


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not getattr(args, "light", False):   # `rag ask` and `rag users` set up only when they load the library
        _setup()
    try:
        return args.func(args)
    except RagError as exc:
        if isinstance(exc, IndexMissingError):   # name the user's folder, not this project's seeds/
            exc = _no_index_hint(exc, args)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; the previous index (if any) is intact", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("RAG_DEBUG"):
            raise
        print(f"error: unexpected {type(exc).__name__}: {exc} (set RAG_DEBUG=1 for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
