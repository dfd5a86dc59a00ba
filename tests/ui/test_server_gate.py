"""The Gate (ui/gate.py) in the server `rag serve` runs, in-process over the fake embedder:
every route of the running app (read from its route table, Gradio's included routers too) answers
401 without a login except the login page's allow-list; password failures by form, Basic and Bearer
are counted together per client and per user and lock out with 429 + Retry-After (the right password
too, until the lockout ends); cross-origin requests (another loopback port, `localhost` for
`127.0.0.1`, `Sec-Fetch-Site: cross-site/same-site`) are refused with 403 on every state-changing route
and the document list, same-origin ones pass; the login cookie is SameSite=Strict and HttpOnly."""
import json
import re
from collections import Counter
from urllib.parse import urlencode, urlsplit

import pytest
from apiserver import basic, multipart, open_rag, request, serve, write_corpus
from conftest import free_port

from rag_ui.gate import Gate, Sessions, Throttle, open_route

LOGIN = ("reader", "s3cret-pw")


@pytest.fixture(scope="module")
def corpus_rag(tmp_path_factory):
    base = tmp_path_factory.mktemp("gate")
    write_corpus(base / "corpus")
    return base, open_rag(base / "corpus", base / "idx")


@pytest.fixture(scope="module")
def site(corpus_rag):
    with serve(corpus_rag[1], LOGIN, app_out=True) as (url, app):
        yield url, app


def gate_of(app) -> Gate:
    """The Gate instance in the running app's middleware stack."""
    layer = app.app.middleware_stack
    while layer is not None and not isinstance(layer, Gate):
        layer = getattr(layer, "app", None)
    return layer


def all_routes(routes, prefix=""):
    """(method, path template) of every route, Gradio's included routers and mounts followed."""
    out = []
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:   # FastAPI's included router (Gradio's /gradio_api routes)
            out += all_routes(original.routes, prefix + route.include_context.prefix)
        elif getattr(route, "routes", None) is not None and hasattr(route, "path"):   # a Mount
            out += all_routes(route.routes, prefix + route.path)
        elif getattr(route, "methods", None):
            out += [(m, prefix + route.path) for m in sorted(route.methods)]
        elif hasattr(route, "path"):   # a websocket route
            out.append(("WEBSOCKET", prefix + route.path))
    return out


def concrete(template: str, file: str = "x/y.txt") -> str:
    """A path for the template; the file routes get a file the Guard would serve (so the Gate is what answers)."""
    if "/file" in template:
        return re.sub(r"\{[^}]*:path\}", file, template)
    path = re.sub(r"\{[^}]*:path\}", "x/y.txt", template)
    path = re.sub(r"\{[^}]*\}", "x1", path)
    return path


def test_every_route_needs_the_login_but_the_login_pages(site, corpus_rag):
    url, app = site
    corpus_file = str(corpus_rag[0] / "corpus" / "quillmarsh.txt")
    routes = sorted(set(all_routes(app.app.routes)))
    assert len(routes) > 60 and ("POST", "/gradio_api/cancel") in routes   # Gradio's own routes are in it
    opened, refused = [], []
    for method, template in routes:
        if method == "WEBSOCKET":
            continue
        path = concrete(template, corpus_file)
        try:
            status, _, body = request(url, method, path, b"{}" if method in ("POST", "PUT", "PATCH") else None,
                                         {"Content-Type": "application/json"}, timeout=5)
        except TimeoutError:
            status, body = "held open", b""
        (opened if status not in (401, 403) else refused).append((method, template, status))   # 403: proxy=
        if status in (401, 403):
            assert b"Quillmarsh" not in body and len(body.splitlines()) <= 1
    expected_open = {(m, t) for m, t in routes if m != "WEBSOCKET" and open_route(m, concrete(t, corpus_file))}
    assert {(m, t) for m, t, _ in opened} == expected_open, [o for o in opened if o[:2] not in expected_open]
    print(f"routes: {len(routes)}; open without login: {len(opened)} {opened}; 401: {len(refused)}")
    for path in ("/openapi.json", "/docs", "/redoc", "/gradio_api/app_id", "/gradio_api/heartbeat/abc",
                 "/gradio_api/info", "/config", "/logout", "/manifest.json"):
        assert request(url, "GET", path)[0] == 401, path
    for path in ("/gradio_api/cancel", "/gradio_api/reset"):
        assert request(url, "POST", path, b'{"session_hash":"a","fn_index":0,"event_id":"b"}',
                       {"Content-Type": "application/json"})[0] == 401, path
    # the login page itself still loads, and once signed in the routes answer
    assert request(url, "GET", "/")[0] == 200
    cookie = login_cookie(url)
    assert request(url, "GET", "/gradio_api/app_id", headers={"Cookie": cookie})[0] == 200
    assert request(url, "GET", "/config", headers={"Cookie": cookie})[0] == 200
    assert request(url, "GET", "/openapi.json", headers={"Cookie": cookie})[0] == 404   # FastAPI's docs are off
    assert request(url, "GET", "/docs", headers={"Cookie": cookie})[0] == 404


def login_cookie(url, user=LOGIN[0], password=LOGIN[1]):
    """POST /login as the login page does; the Cookie header to send after, or raises on failure."""
    body, headers = multipart_form({"username": user, "password": password})
    status, hdrs, raw = request(url, "POST", "/login", body, headers)
    assert status == 200, (status, raw)
    cookies = hdrs.get_all("set-cookie")
    return "; ".join(c.split(";")[0] for c in cookies)


def multipart_form(fields):
    boundary = "----ragformboundary"
    body = "".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                   for k, v in fields.items()) + f"--{boundary}--\r\n"
    return body.encode(), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def test_login_cookie_is_samesite_strict_and_httponly(site):
    url, _ = site
    body, headers = multipart_form({"username": LOGIN[0], "password": LOGIN[1]})
    status, hdrs, _ = request(url, "POST", "/login", body, headers)
    assert status == 200
    cookies = hdrs.get_all("set-cookie")
    assert len(cookies) == 1 and cookies[0].startswith("rag-session-")   # the Gate's session, not Gradio's
    for c in cookies:
        attrs = [a.strip().lower() for a in c.split(";")[1:]]
        assert "samesite=strict" in attrs and "httponly" in attrs and "samesite=none" not in attrs, c
        assert "secure" not in attrs   # plain http: a Secure cookie would not be kept


def test_the_sign_in_form_and_the_session_are_the_gates_own(site):
    """Anonymous, / is the Gate's sign-in form (no Gradio page, no config); signed in, Gradio's page with
    the user; a forged or ended session is refused; /logout ends the session."""
    url, _ = site
    status, hdrs, body = request(url, "GET", "/")
    assert status == 200 and b'type="password"' in body and b"gradio" not in body.lower()
    assert "script-src 'self' 'unsafe-eval' 'sha256-" in hdrs["Content-Security-Policy"]   # its script by hash
    cookie = login_cookie(url)
    status, _, body = request(url, "GET", "/", headers={"Cookie": cookie})
    assert status == 200 and b"gradio" in body.lower() and b'"username":"reader"' in body.replace(b" ", b"")
    name = cookie.split("=")[0]
    assert request(url, "GET", "/config", headers={"Cookie": f"{name}=forged"})[0] == 401
    status, hdrs, _ = request(url, "GET", "/logout", headers={"Cookie": cookie})
    assert status == 302 and "Max-Age=0" in hdrs["Set-Cookie"]
    assert request(url, "GET", "/config", headers={"Cookie": cookie})[0] == 401   # the session is over
    assert request(url, "GET", "/logout")[0] == 401


def test_sessions_expire_and_memory_is_bounded():
    clock = [0.0]
    sessions = Sessions(seconds=60, max_entries=100, clock=lambda: clock[0])
    first = sessions.start("reader")
    assert sessions.user(first) == "reader" and sessions.user("forged") is None and sessions.user(None) is None
    clock[0] = 60.0
    assert sessions.user(first) is None
    tokens = [sessions.start("reader") for _ in range(1000)]
    assert len(sessions.entries) == 100 and sessions.user(tokens[0]) is None and sessions.user(tokens[-1]) == "reader"


# ---- throttle ------------------------------------------------------------------------------------

def attempt(url, how, password, client_headers=None):
    if how == "form":
        body = urlencode({"username": LOGIN[0], "password": password}).encode()
        return request(url, "POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
    headers = basic(LOGIN[0], password) if how == "basic" else {"Authorization": f"Bearer {password}"}
    return request(url, "GET", "/api/status", headers=headers)


def test_wrong_passwords_lock_out_the_client_and_user_across_form_basic_and_bearer(site):
    url, app = site
    gate = gate_of(app)
    clock = [1000.0]
    gate.throttle = Throttle(clock=lambda: clock[0])
    try:
        statuses = []
        for i in range(200):   # what the issue did: 200 wrong passwords, by form, Basic and Bearer in turn
            status, hdrs, body = attempt(url, ("form", "basic", "bearer")[i % 3], f"wrong-{i}")
            statuses.append(status)
            if status == 429:
                assert int(hdrs["Retry-After"]) >= 1 and len(body.splitlines()) == 1
                assert "try again" in json.loads(body).get("error", json.loads(body).get("detail", ""))
        counts = Counter(statuses)
        assert counts[429] >= 190 and counts[400] + counts[401] == 6, counts   # 5 free failures, the 6th locks
        for how in ("form", "basic", "bearer"):   # the right password is refused while locked out
            assert attempt(url, how, LOGIN[1])[0] == 429, how
        wait = gate.throttle.retry_after(["ip:127.0.0.1"])
        assert wait == 1.0   # only failures that were checked count: the 6th locked for 1 s
        clock[0] += wait + 0.01
        assert attempt(url, "basic", "wrong-again")[0] == 401       # the 7th failure: locked for 2 s
        assert attempt(url, "bearer", LOGIN[1])[0] == 429
        assert gate.throttle.retry_after(["ip:127.0.0.1"]) == pytest.approx(2.0, abs=0.02)
        clock[0] += 2.01
        assert attempt(url, "form", LOGIN[1])[0] == 200            # lockout over: the right one is let in
        assert attempt(url, "basic", "wrong")[0] == 401             # and the count started again
        assert gate.throttle.retry_after(["ip:127.0.0.1"]) == 0
    finally:
        gate.throttle = Throttle()


def test_throttle_delays_double_per_user_and_memory_is_bounded():
    clock = [0.0]
    t = Throttle(clock=lambda: clock[0], max_entries=100)
    delays = []
    for _ in range(20):
        clock[0] += t.retry_after(["ip:a", "user:reader"])
        delays.append(t.failed(["ip:a", "user:reader"]))
    assert delays[:5] == [0] * 5 and delays[5:10] == [1, 2, 4, 8, 16] and max(delays) == 900
    assert t.retry_after(["ip:b", "user:reader"]) > 0      # another client, same user: locked too
    assert t.retry_after(["ip:b"]) == 0
    for i in range(10_000):                                # a spray of clients: the table stays bounded
        t.failed([f"ip:{i}"])
    assert len(t.entries) <= 100
    # figure for the report: attempts let through per client in the first minute and the first hour
    for span in (60, 3600):
        clock[0], t2, n = 0.0, Throttle(clock=lambda: clock[0]), 0
        while True:
            clock[0] += t2.retry_after(["ip:z"])
            if clock[0] > span:
                break
            t2.failed(["ip:z"])
            n += 1
        print(f"wrong passwords accepted for trial in {span} s: {n}")
        assert n < (12 if span == 60 else 20)


# ---- cross-origin ------------------------------------------------------------------------------

def state_changing(corpus):
    """(method, path, body, headers) for each state-changing route and the document list."""
    up_body, up_headers = multipart([("cross.txt", b"The Zorvath observatory was founded in 1901.\n")])
    js = {"Content-Type": "application/json"}
    return [("GET", "/api/documents", None, {}),
            ("POST", "/api/documents", up_body, up_headers),
            ("DELETE", "/api/documents/quillmarsh.txt", None, {}),
            ("POST", "/api/ask", json.dumps({"question": "When was Quillmarsh founded?"}).encode(), js),
            ("POST", "/v1/chat/completions", json.dumps({"messages": [{"role": "user", "content": "Quillmarsh?"}]})
             .encode(), js),
            ("POST", "/gradio_api/upload", up_body, up_headers),
            ("POST", "/gradio_api/queue/join", json.dumps({"data": ["Quillmarsh?", [], "hybrid"], "fn_index": 0,
                                                            "session_hash": "abc"}).encode(), js),
            ("POST", "/gradio_api/cancel", json.dumps({"session_hash": "abc", "fn_index": 0, "event_id": "x"})
             .encode(), js),
            ("POST", "/gradio_api/reset", json.dumps({"session_hash": "abc", "fn_index": 0, "event_id": "x"})
             .encode(), js),
            ("POST", "/gradio_api/run/ask", json.dumps({"data": ["Quillmarsh?", [], "hybrid"]}).encode(), js),
            ("POST", "/login", urlencode({"username": LOGIN[0], "password": LOGIN[1]}).encode(),
             {"Content-Type": "application/x-www-form-urlencoded"})]


def cross_headers(url):
    port = urlsplit(url).port
    other = free_port()
    return [{"Origin": f"http://127.0.0.1:{other}"}, {"Origin": f"http://localhost:{other}"},
            {"Origin": f"http://localhost:{port}"}, {"Origin": "null"},
            {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
            {"Origin": f"http://127.0.0.1:{other}", "Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors"}]


def test_cross_origin_requests_are_refused_with_any_credentials(site, corpus_rag):
    url, _ = site
    base, rag = corpus_rag
    cookie = login_cookie(url)
    documents, files = rag.status["documents"], sorted(p.name for p in (base / "corpus").iterdir())
    refused = Counter()
    for creds in ({"Cookie": cookie}, basic(*LOGIN), {"Authorization": f"Bearer {LOGIN[1]}"}):
        for method, path, body, headers in state_changing(base / "corpus"):
            for cross in cross_headers(url):
                status, _, raw = request(url, method, path, body, dict(headers, **creds, **cross))
                assert status == 403, (method, path, cross, status, raw[:200])
                payload = json.loads(raw)
                assert len(raw.splitlines()) == 1 and "cross-origin" in json.dumps(payload), raw
                refused[f"{method} {path}"] += 1
    assert rag.status["documents"] == documents and sorted(p.name for p in (base / "corpus").iterdir()) == files
    print(f"cross-origin requests refused: {sum(refused.values())}: {dict(refused)}")


def test_same_origin_and_headerless_requests_pass(site, corpus_rag):
    url, _ = site
    base, _ = corpus_rag
    cookie = login_cookie(url)
    same = [{"Origin": url, "Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "same-origin"}, {"Origin": url},
            {}]   # {}: curl and Python clients send neither
    for extra in same:
        for method, path, body, headers in state_changing(base / "corpus"):
            if method == "DELETE" or path in ("/api/documents",) and method == "POST":
                continue   # changes the corpus: below, once
            status, _, raw = request(url, method, path, body, dict(headers, Cookie=cookie, **extra))
            assert status not in (401, 403, 429), (method, path, extra, status, raw[:200])
    assert request(url, "GET", "/api/documents", headers=dict(basic(*LOGIN), Origin=url))[0] == 200
    # a top-level navigation from another site to the page is allowed (the login page shows: no cookie is sent)
    assert request(url, "GET", "/", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})[0] == 200


def test_configured_extra_origins_are_accepted(corpus_rag):
    other = f"http://127.0.0.1:{free_port()}"
    with serve(corpus_rag[1], LOGIN, extra_origins=[other]) as url:
        status, _, raw = request(url, "GET", "/api/documents",
                                 headers=dict(basic(*LOGIN), Origin=other, **{"Sec-Fetch-Site": "same-site"}))
        assert status == 200, raw[:200]
        assert request(url, "GET", "/api/documents", headers=dict(basic(*LOGIN), Origin="http://127.0.0.1:1"))[0] == 403


def test_without_a_login_on_loopback_cross_origin_is_still_refused(corpus_rag):
    base, rag = corpus_rag
    with serve(rag) as url:
        assert request(url, "GET", "/api/documents")[0] == 200
        for method, path, body, headers in state_changing(base / "corpus")[:5]:
            for cross in cross_headers(url):
                assert request(url, method, path, body, dict(headers, **cross))[0] == 403, (path, cross)



def test_the_sign_in_page_names_the_product(site):
    import re

    url, _ = site
    status, _, body = request(url, "GET", "/")
    page = body.decode()
    assert status == 200 and re.search(r"<h1>[^<]*rag-offline", page), page[:400]
    assert re.search(r"<title>[^<]*rag-offline", page)
