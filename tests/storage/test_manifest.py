"""rag.storage.manifest.collector_paused: nested, thread-safe, and the collector's state restored."""
import gc
import threading

from rag.storage.manifest import collector_paused


def test_paused_inside_and_restored_after():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()   # the outer one still holds it
    assert gc.isenabled()


def test_left_off_when_it_was_off():
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_restored_after_an_error_and_across_threads():
    try:
        with collector_paused():
            raise KeyError("x")
    except KeyError:
        pass
    assert gc.isenabled()
    inside, leave = threading.Event(), threading.Event()

    def hold():
        with collector_paused():
            inside.set()
            leave.wait(5)
    t = threading.Thread(target=hold)
    t.start()
    inside.wait(5)
    with collector_paused():   # this thread leaves first: the other still holds it
        pass
    assert not gc.isenabled()
    leave.set()
    t.join(5)
    assert gc.isenabled()
