"""The server's file and upload routes (Gradio's and the HTTP API's), in-process with the
settings `rag serve` uses: no path-traversal, encoded, absolute, linked or URL path serves a
file outside the corpus and the app's own files, and uploads over the configured size are
refused (413) on both upload routes with nothing stored or indexed; other routes keep 1 MiB."""
import http.client
import http.server
import json
import os
import tempfile
import threading
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from apiserver import chunked_post, env_set, multipart, open_rag, request, serve, write_corpus
from rag_ui.security import MAX_BODY, Guard

UPLOAD_MAX = 3_000_000   # bytes: over the 1 MiB of the other routes, so the per-route limit shows
MARK = f"SECRET-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A server, its corpus and upload folder, and secrets planted beside the corpus, in /tmp and
    behind links (in the corpus and in the upload folder) that point at them."""
    base = tmp_path_factory.mktemp("sec")
    write_corpus(base / "corpus")
    beside = base / "secret.txt"
    beside.write_text(MARK + " beside the corpus\n")
    fd, in_tmp = tempfile.mkstemp(prefix="rag-secret-", suffix=".txt", dir="/tmp")
    os.write(fd, (MARK + " in /tmp\n").encode())
    os.close(fd)
    uploads = base / "gradio-uploads"
    (uploads / "planted").mkdir(parents=True)
    os.symlink(beside, uploads / "planted" / "link.txt")
    os.symlink(in_tmp, base / "corpus" / "link-out.txt")
    restore = env_set("GRADIO_TEMP_DIR", str(uploads))
    rag = open_rag(base / "corpus", base / "idx")
    try:
        with serve(rag, upload_max=UPLOAD_MAX) as url:
            yield {"url": url, "rag": rag, "base": base, "uploads": uploads,
                   "secrets": [str(beside), in_tmp], "corpus": base / "corpus", "index": base / "idx"}
    finally:
        restore()
        os.unlink(in_tmp)


@pytest.fixture(scope="module")
def remote():
    """A local HTTP server that hands out the secret (what a proxy or URL route would fetch)."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(MARK.encode())

        def log_message(self, *args):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/secret.txt"
    srv.shutdown()
    srv.server_close()


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file() and not p.is_symlink())


def encodings(path):
    """The path as written, with ../ percent-encoded, with every / encoded, and fully encoded."""
    return [path, path.replace("..", "%2e%2e"), path.replace("..", "%2E%2E").replace("/", "%2F"),
            quote(path, safe="")]


def traversal_paths(site, remote):
    up = str(site["uploads"])
    paths = []
    for secret in site["secrets"] + ["/etc/passwd", str(site["index"] / "CURRENT")]:
        rel = os.path.relpath(secret, up)                      # ../../secret.txt from the upload folder
        deep = "../" * 12 + secret.lstrip("/")
        for prefix in ("/gradio_api/file=", "/file=", "/gradio_api/file/", "/file/"):
            paths += [prefix + p for p in encodings(secret) + encodings(f"{up}/{rel}") + encodings(deep)]
            paths.append(prefix + "file://" + secret)
        for prefix in ("/static/", "/assets/", "/gradio_api/static/", "/svelte/", "/gradio_api/", "/"):
            paths += [prefix + p for p in encodings(deep)]
        paths += ["/theme.css/" + deep, "/favicon.ico/" + deep]
    paths += [f"/gradio_api/file={up}/planted/link.txt", f"/file={up}/planted/link.txt",
              f"/gradio_api/file={site['corpus']}/link-out.txt",
              "/gradio_api/file=" + remote, "/gradio_api/proxy=" + remote, "/proxy=" + remote]
    return paths


def test_no_route_serves_a_file_outside_the_corpus_and_app(site, remote):
    url = site["url"]
    # positive control: a file uploaded through Gradio is served back from its upload folder
    status, _, body = request(url, "POST", "/gradio_api/upload", *multipart([("mine.txt", b"my own upload")]))
    assert status == 200, body
    served = json.loads(body)[0]
    assert served.startswith(str(site["uploads"]))
    status, _, body = request(url, "GET", "/gradio_api/file=" + served)
    assert status == 200 and body == b"my own upload"
    # ... and nothing else: no secret, no file of the index, no system file, no fetched URL
    leaks = []
    for path in traversal_paths(site, remote):
        for method in ("GET", "HEAD"):
            try:
                status, _, body = request(url, method, path, timeout=20)
            except (OSError, http.client.HTTPException):
                continue   # refused at the connection: nothing served
            if MARK.encode() in body or b"root:x:0:0" in body or b'"manifest_sha256"' in body or \
                    (status == 200 and "/file" in path):
                leaks.append((method, path, status, body[:80]))
    assert leaks == [], leaks[:5]


@pytest.mark.parametrize("path", ["/api/documents/{rel}", "/api/documents/{enc}", "/api/documents/{abs}"])
def test_document_routes_touch_nothing_outside_the_corpus(site, path):
    beside = site["secrets"][0]
    rel = os.path.relpath(beside, site["corpus"])
    target = path.format(rel=rel, enc=rel.replace("..", "%2e%2e").replace("/", "%2F"), abs=beside)
    status, _, body = request(site["url"], "DELETE", target)
    assert status in (400, 404, 501), (status, body)
    assert Path(beside).read_text().startswith(MARK) and MARK.encode() not in body


def test_gradio_upload_takes_up_to_the_upload_size_and_refuses_more(site):
    url, uploads = site["url"], site["uploads"]
    status, _, body = request(url, "POST", "/gradio_api/upload", *multipart([("two-mb.txt", b"a" * 2_000_000)]))
    assert status == 200, body   # over the 1 MiB of other routes, under the upload size
    before = files_under(uploads)
    for size in (UPLOAD_MAX + 10_000, 2 * UPLOAD_MAX):   # over the file limit / over the body limit too
        status, _, body = request(url, "POST", "/gradio_api/upload", *multipart([("big.txt", b"b" * size)]))
        assert status == 413, (size, status, body[:200])
    assert files_under(uploads) == before


def test_api_upload_over_the_size_is_refused_and_nothing_indexed(site):
    url, rag, corpus = site["url"], site["rag"], site["corpus"]
    documents, files = rag.status["documents"], files_under(corpus)
    body, headers = multipart([("huge.txt", b"The huge file.\n" * (2 * UPLOAD_MAX // 15))])
    status, _, raw = request(url, "POST", "/api/documents", body, headers)
    assert status == 413, raw[:200]
    chunked = chunked_post(url, "/api/documents", [body[i:i + 65536] for i in range(0, len(body), 65536)], headers)
    assert chunked in (413, None)
    assert rag.status["documents"] == documents and files_under(corpus) == files


def test_other_routes_keep_one_mib(site):
    url = site["url"]
    big = json.dumps({"question": "x" * (MAX_BODY + 10)}).encode()
    for path in ("/api/ask", "/v1/chat/completions", "/gradio_api/queue/join", "/gradio_api/upload/../../api/ask"):
        status, _, _ = request(url, "POST", path, big, {"Content-Type": "application/json"})
        assert status == 413, path




@pytest.mark.parametrize("method, path, limit", [
    ("POST", "/gradio_api/upload", 100), ("POST", "/gradio_api/upload/", 100), ("POST", "/api/documents", 100),
    ("GET", "/api/documents", 10), ("POST", "/api/ask", 10), ("POST", "/gradio_api/upload/x", 10),
    ("PUT", "/api/documents", 10)])
def test_guard_limit_is_per_route(method, path, limit):
    assert Guard(None, max_body=10, upload_max=100).limit({"method": method, "path": path}) == limit


@pytest.mark.parametrize("path, ok", [
    ("/gradio_api/file=/srv/up/a/b.txt", True), ("/file=/srv/up/b.txt", True), ("/gradio_api/file//srv/up/b", True),
    ("/gradio_api/file=/srv/up/../b.txt", False), ("/gradio_api/file=/srv/upx/b.txt", False),
    ("/gradio_api/file=http://example.com/x", False), ("/gradio_api/file=file:///srv/up/b", False),
    ("/gradio_api/file=", False), ("/gradio_api/proxy=http://x/", False), ("/api/ask", True), ("/", True)])
def test_guard_file_routes_stay_under_their_roots(path, ok):
    assert Guard(None, file_roots=["/srv/up"]).file_allowed(path) is ok
