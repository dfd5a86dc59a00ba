"""The HTTP API is an application of its own: with Gradio (and FastAPI) made unimportable, rag_ui.http_api
imports, `rag serve --api-only` (rag_ui.server.launch(api_only=True)) serves it on a real port, behind
its own login, and answers; nothing of Gradio was imported."""
import json
import subprocess
import sys

import pytest
from conftest import ROOT, TESTS

pytestmark = pytest.mark.subprocess

SCRIPT = r'''
import base64, json, sys, urllib.error, urllib.request
from pathlib import Path

class Blocked:
    """Import hook: gradio, gradio_client and fastapi are not installed, as far as this process knows."""
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("gradio", "gradio_client", "fastapi"):
            raise ImportError(f"No module named {name!r} (blocked by the test)")

sys.meta_path.insert(0, Blocked())
from rag.cli import ui_package
ui_package()
from rag_ui import http_api  # noqa: F401 - the import itself is under test
from rag_ui.server import launch
from apiserver import PEOPLE, free_port, open_rag, write_corpus

base = Path(sys.argv[1])
write_corpus(base / "corpus")
rag = open_rag(base / "corpus", base / "idx")
served = launch(host="127.0.0.1", port=free_port(), auth="reader:s3cret-pw", rag=rag, block=False, api_only=True)

def call(path, data=None, auth=None):
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    req = urllib.request.Request(served.url + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        body = exc.read()
        return exc.code, json.loads(body) if exc.headers.get("content-type") == "application/json" else body.decode()

person, obs, town, year = PEOPLE[0]
question = json.dumps({"question": f"When did {person} found the {obs} observatory?"}).encode()
out = {"anonymous": call("/api/ask", question)[0], "wrong": call("/api/status", auth="reader:nope")[0],
       "status": call("/api/status", auth="reader:s3cret-pw"), "ask": call("/api/ask", question, "reader:s3cret-pw"),
       "page": call("/", auth="reader:s3cret-pw")[0], "year": year}
served.close()
try:   # the hook works: the chat page's module, which needs Gradio, cannot be imported
    import rag_ui.app  # noqa: F401
    out["page_module"] = "imported"
except ImportError as exc:
    out["page_module"] = str(exc)
out["imported"] = sorted(m for m in sys.modules if m.split(".")[0] in ("gradio", "gradio_client", "fastapi"))
print(json.dumps(out))
'''


def test_the_http_api_runs_without_gradio(tmp_path):
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=300,
                       cwd=ROOT, env={"PYTHONPATH": f"{ROOT}:{TESTS}", "PATH": "/usr/bin:/bin",
                                      "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["imported"] == [] and "blocked by the test" in out["page_module"], out
    assert out["anonymous"] == 401 and out["wrong"] == 401
    status, body = out["status"]
    assert status == 200 and body["documents"] == 10 and body["index"] == "idx"
    status, body = out["ask"]
    assert status == 200 and body["short_answer"] == str(out["year"]), body
    assert out["page"] == 404   # no chat page: the API alone


CLI = r'''
import sys

class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("gradio", "gradio_client", "fastapi"):
            raise ImportError(f"No module named {name!r} (blocked by the test)")

sys.meta_path.insert(0, Blocked())
from rag.cli import main
sys.exit(main(sys.argv[1:]))
'''


@pytest.mark.model
def test_rag_serve_api_only_runs_without_gradio(cli_env):
    """`rag serve --api-only` (building the missing index with the real model) in a process where Gradio
    cannot be imported: the API answers; the page is not there."""
    import time
    import urllib.error
    import urllib.request

    from conftest import free_port

    port = free_port()
    env = dict(cli_env, PYTHONPATH=f"{ROOT}")
    proc = subprocess.Popen([sys.executable, "-c", CLI, "serve", "--api-only", "--port", str(port)], env=env,
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                with urllib.request.urlopen(url + "/api/status", timeout=5) as resp:
                    status = json.loads(resp.read())
                break
            except OSError:
                assert time.time() < deadline, "rag serve --api-only did not answer"
                time.sleep(0.5)
        assert status["documents"] == 1 and status["index"] == "idx"
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url + "/", timeout=5)
        assert err.value.code == 404
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0]
    assert "serving the HTTP API on" in out and "Traceback" not in out, out
