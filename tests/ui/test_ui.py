"""The UI's handler function, the server's guards over HTTP, and the page in a real browser."""
import http.client
import http.server
import json
import re
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest

from apiserver import chunked_post
from conftest import SEEDS, free_port
from rag.config import Config
from rag.answer.examples import example_questions
from rag_ui.app import ask, public_message, status_line
from rag_ui.http_api import MULTIPART_SLACK, upload_limit
from conftest import launch_chromium
from rag_ui.render import sources_html
from rag_ui.session import from_answer
from rag_ui.security import MAX_BODY, ServeError, is_loopback, serve_auth

QUESTION = "How many North Korean soldiers were sent to Russia last fall?"




def test_handler_answers_with_markers_and_highlighted_sources(seed_rag):
    turns, messages, sources, box = ask(seed_rag, QUESTION, [])
    assert box == ""
    assert messages[0] == {"role": "user", "content": QUESTION}
    assert messages[1]["role"] == "assistant" and "12,000" in messages[1]["content"]
    assert "href='#cite-0-1'" in messages[1]["content"]   # the [1] marker is a link to its source
    assert "<mark class='quote'>" in sources and "12,000" in sources.split("<mark class='quote'>")[1]
    assert "north-korean-troops-in-russia.txt" in sources
    assert turns[0]["sources"][0]["quotes"] and turns[0]["short"] in (None, "12,000")   # shown when confident


def test_handler_keeps_history_and_handles_not_found(seed_rag):
    turns, _, _, _ = ask(seed_rag, QUESTION, [])
    turns, messages, sources, _ = ask(seed_rag, "What is the capital of France?", turns)
    assert len(messages) == 4 and len(turns) == 2
    assert "do not contain" in messages[3]["content"]
    assert "<mark" not in sources and "nearest passages" in sources
    assert "#cite-" not in messages[3]["content"]
    assert "12,000" in sources_html(turns[0], 0), "an earlier answer keeps its own sources"


def test_handler_follow_up_reads_the_earlier_turns(seed_rag):
    turns, _, _, _ = ask(seed_rag, "Where were most of the North Korean troops deployed?", [])
    turns, messages, _, _ = ask(seed_rag, "and how many were killed?", turns)
    reply = messages[-1]["content"]
    assert "a third" in reply and "Read as" in reply, reply


def test_handler_reports_errors_in_the_chat(seed_rag):
    turns, messages, sources, _ = ask(seed_rag, "  ", [])
    assert "empty" in messages[-1]["content"] and turns[-1]["error"] and "could not be answered" in sources


@pytest.mark.parametrize("message, words", [
    (None, "got NoneType"), (12, "got int"), ("how many \udcff soldiers?", "lone surrogate"),
    ("<img src=x onerror=alert(1)>", None)])
def test_handler_shows_bad_questions_as_one_escaped_line(seed_rag, message, words):
    turns, messages, sources, _ = ask(seed_rag, message, [])
    json.dumps([messages, turns, sources], ensure_ascii=False).encode("utf-8")   # sendable (no lone surrogates)
    assert "<img" not in json.dumps(messages) and "<img" not in sources
    if words:
        assert words in messages[-1]["content"] and "\n" not in messages[-1]["content"]


def test_errors_and_status_name_no_absolute_path(seed_rag, tmp_path):
    from rag import Rag

    assert str(seed_rag.config.index_dir) not in status_line(seed_rag)
    assert public_message(f"no index at {tmp_path}/idx: run `rag index --index {tmp_path}/idx`") == \
        "no index at idx: run `rag index --index idx`"
    with pytest.raises(Exception) as err:
        Rag.open(tmp_path / "missing", embedder=seed_rag.embedder)
    assert str(tmp_path) not in public_message(str(err.value))


def test_sources_escape_html(seed_rag):
    a = seed_rag.query(QUESTION)
    html = sources_html(from_answer(QUESTION, a), 0)
    assert "<script" not in html
    quote = html.split("<mark class='quote'>")[1]
    assert "12,000" in quote and ("<mark class='short'>" not in html   # a short answer shown only when confident,
                                  or "<mark class='short'>12,000</mark>" in quote)   # and then inside its quote
    plain = re.sub(r"</?mark[^>]*>", "", html)
    assert all(c.quote in plain for c in a.citations)


def test_status_line_and_examples(seed_rag):
    line = status_line(seed_rag)
    assert line.startswith("1 document, indexed ") and ("ago" in line or "just now" in line), line
    examples = example_questions(seed_rag)
    assert len(examples) >= 2 and all(seed_rag.query(q).found for q in examples)


@pytest.mark.browser
def test_browser_chat_cites_and_stays_local(server):
    from playwright.sync_api import sync_playwright

    requests = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.goto(server)
            page.wait_for_selector("#question textarea", timeout=30000)
            page.wait_for_function("document.querySelector('#status textarea, #status input').value"
                                   ".startsWith('1 document,')", timeout=30000)
            page.fill("#question textarea", QUESTION)
            page.keyboard.press("Enter")
            page.wait_for_selector("#sources mark", timeout=30000)
            page.wait_for_selector("#chat a.cite", timeout=30000)   # the answer itself, rendered
            assert "12,000" in page.inner_text("#sources mark")
            assert "[1]" in page.inner_text("#chat")
        finally:
            browser.close()
    outside = [u for u in requests if u.startswith("http") and not u.startswith(server)]
    assert outside == [], f"the page contacted outside hosts: {outside[:5]}"


def test_handler_mode_is_selectable(seed_rag):
    for mode in ("dense", "bm25", "rrf", "hybrid"):
        _, messages, _, _ = ask(seed_rag, QUESTION, [], mode)
        assert "12,000" in messages[-1]["content"], mode
    _, messages, _, _ = ask(seed_rag, QUESTION, [], "magic")
    assert "unknown retrieval mode" in messages[-1]["content"]


# ---- the server: login off loopback, body limits, headers, no paths -------------------------------

@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.0.0.2", True), ("127.255.255.254", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("LOCALHOST", True), ("0.0.0.0", False), ("::", False), ("", False),
    ("192.168.1.10", False), ("10.0.0.1", False), ("example.com", False), ("128.0.0.1", False)])
def test_loopback_is_127_8_ipv6_one_and_localhost(host, loopback):
    assert is_loopback(host) is loopback
    if not loopback:
        with pytest.raises(ServeError, match="--auth USER:PASSWORD"):
            serve_auth(host, None)
        assert serve_auth(host, "ann:pw:with:colons") == ("ann", "pw:with:colons")


@pytest.mark.parametrize("auth", ["nocolon", ":pw", "user:"])
def test_auth_must_be_user_colon_password(auth):
    with pytest.raises(ServeError, match="USER:PASSWORD"):
        serve_auth("127.0.0.1", auth)


@pytest.mark.parametrize("args, env, message", [
    (["--host", "0.0.0.0"], {}, "without a login"),
    (["--host", "::"], {}, "without a login"),
    (["--host", "0.0.0.0", "--auth", "nocolon"], {}, "USER:PASSWORD"),
    (["--host", "0.0.0.0"], {"RAG_AUTH": "user:"}, "USER:PASSWORD"),
])
def test_serve_off_loopback_without_login_refuses_to_start(cli_env, args, env, message):
    env = dict({k: v for k, v in cli_env.items() if k != "RAG_AUTH"}, **env)
    t0 = time.time()
    r = subprocess.run([sys.executable, "-m", "rag.cli", "serve", "--port", str(free_port()), *args],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], r.stderr
    assert not os.path.exists(env["RAG_INDEX"]), "refused before building or loading anything"
    assert time.time() - t0 < 30


@contextmanager
def serving(env, *args):
    """`rag serve ARGS` on a free loopback port; yields its URL once it answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--port", str(port), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"rag serve exited: {proc.stdout.read()}")
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.time() > deadline:
                    pytest.fail("rag serve did not answer within 120 s")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def fetch(url, data=None, headers=None, method=None):
    """(status, headers, body) without raising on 4xx/5xx."""
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def multipart(name, content):
    boundary = "----ragtestboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def post_claiming(url, path, length, headers):
    """POST headers that announce a body of length bytes, send none, and return the status
    (a server that waits for the body times out: no status)."""
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.putrequest("POST", path)
        for name, value in dict(headers, **{"Content-Length": str(length)}).items():
            conn.putheader(name, value)
        conn.endheaders()
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def test_server_limits_uploads_sets_csp_and_hides_paths(server, cli_env):
    status, headers, page = fetch(server)
    csp = headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "img-src 'self' data: blob:", "frame-ancestors 'none'",
                      "object-src 'none'"):
        assert directive in csp, csp
    assert "http:" not in csp and "https:" not in csp and "*" not in csp
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert "unsafe-inline" not in script_src and "'sha256-" in script_src   # Gradio's inline config, by hash
    assert "Content-Security-Policy" in fetch(server + "config")[1]

    # Gradio's upload route: a small file is taken, one over the upload size refused (by length and chunked)
    status, _, body = fetch(server + "gradio_api/upload", *multipart("small.txt", b"hello"))
    assert status == 200 and b"small.txt" in body
    upload_headers = multipart("c.bin", b"")[1]
    upload_max = upload_limit(Config()) + MULTIPART_SLACK
    assert post_claiming(server, "/gradio_api/upload", upload_max + 1, upload_headers) == 413
    head, tail = multipart("c.bin", b"\0")[0].split(b"\0")
    huge = [b"y" * 65536] * (upload_max // 65536 + 2)
    assert chunked_post(server, "/gradio_api/upload", [head, *huge, tail], upload_headers) in (413, None)
    big = [b"y" * 65536] * (MAX_BODY // 65536 + 2)
    # any route: the queue, the API, a page
    json_headers = {"Content-Type": "application/json"}
    for path in ("/gradio_api/queue/join", "/gradio_api/call/ask", "/"):
        assert post_claiming(server, path, 50 * MAX_BODY, json_headers) == 413, path
    assert chunked_post(server, "/gradio_api/queue/join", [b"{", *big, b"}"], json_headers) in (413, None)

    secrets = [cli_env["RAG_INDEX"], cli_env["RAG_CORPUS"], os.path.dirname(cli_env["RAG_INDEX"])]
    for path in ("", "config", "gradio_api/info", "gradio_api/openapi.json"):
        status, _, body = fetch(server + path)
        text = body.decode("utf-8", "replace")
        assert all(s not in text and s.replace("/", "\\/") not in text for s in secrets), path


def login(url, user, password):
    """The session cookie header after logging in through Gradio's /login form."""
    data = f"username={user}&password={password}".encode()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    try:
        with opener.open(urllib.request.Request(url + "login", data=data), timeout=30) as resp:
            return opener, resp.status
    except urllib.error.HTTPError as exc:
        return opener, exc.code


@pytest.fixture(scope="module")
def beacon():
    """A tiny HTTP server on 127.0.0.2 counting every request it gets (the 'remote' host of a tracking pixel)."""
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = http.server.HTTPServer(("127.0.0.2", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.2:{srv.server_address[1]}", hits
    srv.shutdown()
    srv.server_close()


BEACON_QUESTION = "How many herring gulls did the Varnholm lighthouse keeper count?"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory, beacon):
    """`rag serve --auth` over a corpus whose answer sentence carries a Markdown image and an <img> tag."""
    base, _ = beacon
    corpus = tmp_path_factory.mktemp("beacon") / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / "gulls.txt").write_text(
        "Varnholm lighthouse\n\n"
        "The Varnholm lighthouse keeper counted 4,217 herring gulls on the island in 2019 "
        f"![x]({base}/pixel.png) and <img src=\"{base}/b.png\"> during the spring survey.\n"
        "The lighthouse was automated in 1987.\n", encoding="utf-8")
    env = dict(os.environ, RAG_CORPUS=str(corpus), RAG_INDEX=str(corpus.parent / "idx"),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    env.pop("RAG_AUTH", None)
    with serving(env, "--auth", "reader:s3cret-pw") as url:
        yield url


def test_auth_server_refuses_anonymous_api_calls(auth_server):
    for path, data in [("config", None), ("gradio_api/info", None),
                       ("gradio_api/upload", multipart("a.txt", b"hi")[0]),
                       ("gradio_api/call/ask", b'{"data": ["hello", [], "hybrid"]}'),
                       ("gradio_api/queue/join", b'{"data": ["hello", [], "hybrid"], "fn_index": 0}')]:
        headers = multipart("a.txt", b"hi")[1] if "upload" in path else {"Content-Type": "application/json"}
        status, _, _ = fetch(auth_server + path, data, headers if data else None)
        assert status in (401, 403), (path, status)
    opener, status = login(auth_server, "reader", "wrong")
    assert status >= 400
    with pytest.raises(urllib.error.HTTPError) as err:
        opener.open(auth_server + "config", timeout=30)
    assert err.value.code in (401, 403)
    opener, status = login(auth_server, "reader", "s3cret-pw")
    assert status == 200
    with opener.open(auth_server + "config", timeout=30) as resp:
        assert resp.status == 200 and b"gulls.txt" not in resp.read()   # the page, not the corpus


def test_auth_server_serves_the_http_api_behind_the_same_login(auth_server):
    """`rag serve` mounts the HTTP API (ui/http_api.py) on the UI's port, behind its login."""
    ask = json.dumps({"question": BEACON_QUESTION}).encode()
    json_headers = {"Content-Type": "application/json"}
    assert fetch(auth_server + "api/ask", ask, json_headers)[0] == 401
    assert fetch(auth_server + "v1/models", headers={"Authorization": "Bearer wrong"})[0] == 401
    status, _, body = fetch(auth_server + "api/ask", ask, dict(json_headers, Authorization="Bearer s3cret-pw"))
    assert status == 200 and json.loads(body)["short_answer"] == "4,217", body
    status, _, body = fetch(auth_server + "api/status", headers={"Authorization": "Bearer s3cret-pw"})
    assert status == 200 and json.loads(body)["documents"] == 2 and json.loads(body)["index"] == "idx"


@pytest.mark.browser
def test_browser_login_then_beacon_document_shows_as_text(auth_server, beacon):
    from playwright.sync_api import sync_playwright

    base, hits = beacon
    requests, csp = [], []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(auth_server)
            page.wait_for_selector("input[type=password]", timeout=30000)
            assert page.query_selector("#question textarea") is None, "the chat is behind the login"
            page.fill("input[type=text]", "reader")
            page.fill("input[type=password]", "s3cret-pw")
            page.keyboard.press("Enter")
            page.wait_for_selector("#question textarea", timeout=30000)
            page.fill("#question textarea", BEACON_QUESTION)
            page.keyboard.press("Enter")
            page.wait_for_selector("#sources mark", timeout=30000)
            page.wait_for_selector("#chat a.cite", timeout=30000)   # the answer itself, rendered
            page.wait_for_timeout(1500)   # time for any image the page would load
            chat, sources = page.inner_text("#chat"), page.inner_text("#sources")
            images = page.eval_on_selector_all("img", "els => els.map(e => e.src)")
        finally:
            browser.close()
    assert "4,217" in chat and "[1]" in chat
    for text in (chat, sources):   # the raw markup, shown as text
        assert f"![x]({base}/pixel.png)" in text and f'<img src="{base}/b.png">' in text, text
    assert not [src for src in images if src.startswith(base)]
    assert hits == [], f"the page fetched the beacon: {hits}"
    outside = [u for u in requests if u.startswith(("http:", "https:", "ws:", "wss:"))
               and not u.startswith(auth_server)]
    assert outside == [], f"the page contacted other origins: {outside[:5]}"
    assert csp == [], f"Content-Security-Policy violations (the page tried to load something): {csp[:3]}"
