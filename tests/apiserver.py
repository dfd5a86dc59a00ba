"""An in-process `rag serve` (the HTTP API with the chat page mounted on it, rag_ui.server.create_app,
the settings `rag serve` uses) over a Rag with the fake embedder, on a free loopback port, and raw
HTTP helpers that send paths exactly as written (no ../ normalisation)."""
from __future__ import annotations

import base64
import http.client
import json
import os
from contextlib import contextmanager
from urllib.parse import urlsplit

from conftest import FakeEmbedder, free_port

PEOPLE = [("Orlanth Veyne", "Quillmarsh", "Dravik", 1803), ("Maribel Quorst", "Ennisfall", "Toravo", 1811),
          ("Tobiah Crane", "Westerholm", "Ulsbury", 1822), ("Ysolde Marrak", "Pellinor", "Kestwick", 1834),
          ("Caspian Dunmore", "Hollowmere", "Brackenridge", 1846), ("Linnea Sortell", "Varnholm", "Gaddesby", 1857),
          ("Ferris Okonjo", "Ashcombe", "Millbrook", 1869), ("Hester Valdane", "Thornquay", "Rosskeel", 1872),
          ("Anselm Brightwater", "Corrieden", "Faulmouth", 1888), ("Rowena Thistlewood", "Stannary", "Quenby", 1895)]


def write_corpus(corpus) -> None:
    """Ten short documents, one per person: who founded which observatory when, born where."""
    corpus.mkdir(parents=True, exist_ok=True)
    for person, obs, town, year in PEOPLE:
        (corpus / f"{obs.lower()}.txt").write_text(
            f"The {obs} observatory\n\n{person} founded the {obs} observatory in {year}. {person} was born "
            f"in the mountain town of {town}. The observatory catalogued comets for many decades.\n",
            encoding="utf-8")


def open_rag(corpus, index_dir):
    from rag import Config, Rag
    from rag.build.builder import build_index

    build_index(Config(corpus_dir=corpus, index_dir=index_dir, model=FakeEmbedder.name),
                embedder=FakeEmbedder(), progress=False)
    return Rag.open(index_dir, embedder=FakeEmbedder(), corpus_dir=corpus)


@contextmanager
def serve(rag, login=None, app_out=False, **kwargs):
    """The chat page and the API over rag, as `rag serve` configures them (api_only=True: the API alone);
    yields the base URL (with app_out, (URL, the running rag_ui.server.Served, whose .app is the application))."""
    from rag_ui.server import Served, create_app

    served = Served(create_app(rag, login, **kwargs), "127.0.0.1", free_port()).start()
    try:
        yield (served.url, served) if app_out else served.url
    finally:
        served.close()


def request(url, method, path, body=None, headers=None, timeout=60):
    """(status, headers, body bytes); path is sent byte for byte as given."""
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        try:
            conn.request(method, path, body=body, headers=headers or {})
        except (BrokenPipeError, ConnectionResetError):
            pass   # refused before the whole body was sent: the answer is still there to read
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def post_json(url, path, payload, headers=None):
    status, hdrs, body = request(url, "POST", path, json.dumps(payload).encode(),
                                 dict({"Content-Type": "application/json"}, **(headers or {})))
    return status, (json.loads(body) if hdrs.get("content-type", "").startswith("application/json") else body)


def get_json(url, path, headers=None):
    status, hdrs, body = request(url, "GET", path, headers=headers)
    return status, (json.loads(body) if hdrs.get("content-type", "").startswith("application/json") else body)


def multipart(files, field="files"):
    """(body, headers) for [(filename, bytes), ...]."""
    boundary = "----ragapitestboundary"
    body = b""
    for name, data in files:
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n"
                 f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def env_set(name, value):
    """Set an environment variable; returns a function that restores it."""
    old = os.environ.get(name)
    os.environ[name] = value

    def restore():
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old
    return restore


def chunked_post(url, path, chunks, headers):
    """POST a chunked body (no Content-Length); the status, or None if the server cut the connection."""
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request("POST", path, body=iter(chunks), headers=headers, encode_chunked=True)
        return conn.getresponse().status
    except (ConnectionError, http.client.HTTPException):
        return None
    finally:
        conn.close()
