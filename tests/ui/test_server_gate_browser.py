"""Cross-site requests in a real browser (Debian's chromium, headless), with the login of `rag serve`:
signed in on the page, a page served from another loopback port calls fetch() with credentials (the
login cookie goes along: another port of the same host is the same site) to read the document list,
delete a document and upload one; every call is refused and nothing changes. The page itself, on its
own origin, still signs in and answers."""
import http.server
import json
import threading

import pytest
from apiserver import PEOPLE, open_rag, serve, write_corpus
from conftest import launch_chromium

pytestmark = pytest.mark.browser
LOGIN = ("reader", "s3cret-pw")
EVIL = """<!doctype html><html><body><script>
const target = %s;
window.results = (async () => {
  const out = {};
  const call = async (name, url, init) => {
    try { const r = await fetch(url, Object.assign({credentials: 'include'}, init));
          out[name] = {status: r.status, body: (await r.text()).slice(0, 300)}; }
    catch (e) { out[name] = {status: 0, body: String(e)}; }
  };
  await call('list', target + '/api/documents', {});
  await call('delete', target + '/api/documents/quillmarsh.txt', {method: 'DELETE'});
  const form = new FormData();
  form.append('files', new Blob(['The Zorvath observatory was founded in 1901.']), 'zorvath.txt');
  await call('upload', target + '/api/documents', {method: 'POST', body: form});
  await call('simple-post', target + '/api/ask', {method: 'POST', body: '{"question": "Quillmarsh?"}',
                                                  headers: {'Content-Type': 'text/plain'}});
  return out;
})();
</script></body></html>"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("gatebrowser")
    write_corpus(base / "corpus")
    rag = open_rag(base / "corpus", base / "idx")
    with serve(rag, LOGIN) as url:
        yield url, rag, base / "corpus"


def evil_server(target):
    page = (EVIL % json.dumps(target)).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass
    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def test_a_page_on_another_port_cannot_use_the_login_cookie(site):
    from playwright.sync_api import sync_playwright

    url, rag, corpus = site
    files, documents = sorted(p.name for p in corpus.iterdir()), rag.status["documents"]
    evil = evil_server(url)
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            try:
                ctx = browser.new_context()
                page = ctx.new_page()
                page.goto(url + "/")
                page.fill("input[type=text]", LOGIN[0])
                page.fill("input[type=password]", LOGIN[1])
                page.keyboard.press("Enter")
                page.wait_for_selector("#question textarea", timeout=30000)
                cookies = ctx.cookies()
                assert cookies and all(c["sameSite"] == "Strict" and c["httpOnly"] for c in cookies), cookies
                # the page itself works: a question is answered
                page.fill("#question textarea", f"When did {PEOPLE[0][0]} found the {PEOPLE[0][1]} observatory?")
                page.keyboard.press("Enter")
                page.wait_for_function("() => [...document.querySelectorAll('#chat .message.bot')]"
                                       f".some(m => m.innerText.includes('{PEOPLE[0][3]}'))", timeout=30000)
                # another loopback port, same browser (the cookie is the same site's)
                other = ctx.new_page()
                other.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
                results = other.evaluate("window.results")
            finally:
                browser.close()
    finally:
        evil.shutdown()
        evil.server_close()
    print("cross-site fetch() results:", {k: v["status"] for k, v in results.items()})
    for name, result in results.items():
        assert result["status"] in (0, 403), (name, result)
        assert "quillmarsh" not in result["body"].lower() or "cross-origin" in result["body"], (name, result)
    assert sorted(p.name for p in corpus.iterdir()) == files and rag.status["documents"] == documents
