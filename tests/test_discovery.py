"""rag.discovery: the serve.json a running `rag serve` leaves in its index folder: private, found only
while its pid lives and for the folder it names, removed only by its writer."""
import json
import os
import shutil
import stat
import subprocess
import sys

from rag import discovery


def test_write_find_remove(tmp_path):
    record = discovery.write(tmp_path, 7860, host="127.0.0.1", reader=True)
    path = tmp_path / discovery.FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert record["pid"] == os.getpid() and record["port"] == 7860 and len(record["token"]) >= 40
    assert discovery.find(tmp_path) == record
    discovery.remove(tmp_path, "not-the-token")   # someone else's: kept
    assert path.exists()
    discovery.remove(tmp_path, record["token"])
    assert not path.exists() and discovery.find(tmp_path) is None
    assert [p.name for p in tmp_path.iterdir()] == []   # no temporary file left


def test_a_dead_pid_is_not_found(tmp_path):
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    record = discovery.write(tmp_path, 7860)
    data = dict(record, pid=int(proc.stdout))   # a process that has exited
    (tmp_path / discovery.FILE).write_text(json.dumps(data))
    assert discovery.find(tmp_path) is None


def test_a_copied_index_folder_does_not_find_the_original_server(tmp_path):
    (tmp_path / "a").mkdir()
    discovery.write(tmp_path / "a", 7860)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert discovery.find(tmp_path / "a") is not None
    assert discovery.find(tmp_path / "b") is None


def test_malformed_files_are_ignored(tmp_path):
    for text in ("{", "[]", '{"token": 5, "port": 1}', json.dumps({"token": "t", "port": "80", "pid": os.getpid(),
                                                                  "index": os.path.realpath(tmp_path)})):
        (tmp_path / discovery.FILE).write_text(text)
        assert discovery.find(tmp_path) is None
    assert discovery.find(tmp_path / "missing") is None
