"""The Gate with several accounts (the users file of rag.users next to the --auth pair): each signs in
with their own name and password by form, Basic or Bearer USER:PASSWORD; the user let in is theirs; a
removed user's session stops; failures are throttled per client and per known user; the local token of
serve.json lets `rag ask` in from loopback only; `rag serve`'s choice of logins (ui/server.logins)."""
import json
from urllib.parse import urlencode

import pytest
from apiserver import basic, get_json, open_rag, post_json, request, serve, write_corpus

from rag.users import Users
from rag_ui.gate import Accounts, Gate, Throttle

ANN, BOB, PAIR = ("ann", "ann-password-1"), ("bob", "bob-password-1"), ("reader", "s3cret-pw")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("accounts")
    write_corpus(base / "corpus")
    rag = open_rag(base / "corpus", base / "idx")
    users = Users(base / "users.json")
    users.add(*ANN)
    users.add(*BOB)
    return rag, users


@pytest.fixture(scope="module")
def site(setup):
    rag, users = setup
    with serve(rag, Accounts(pair=PAIR, users=users), app_out=True, local_token="tok-" + "x" * 40) as (url, app):
        yield url, app, users


def gate_of(app) -> Gate:
    layer = app.app.middleware_stack
    while layer is not None and not isinstance(layer, Gate):
        layer = getattr(layer, "app", None)
    return layer


def form(url, name, password):
    return request(url, "POST", "/login", urlencode({"username": name, "password": password}).encode(),
                   {"Content-Type": "application/x-www-form-urlencoded"})


def cookie_of(hdrs) -> str:
    return hdrs["set-cookie"].split(";")[0]


def whoami(url, headers):
    """The owner the app sees: a conversation created with these credentials, then listed back by the pair."""
    status, conv = post_json(url, "/api/conversations", {"title": "who"}, headers)
    return status, conv


def test_each_account_signs_in_with_its_own_password(site):
    url, app, _ = site
    for name, password in (ANN, BOB, PAIR):
        assert get_json(url, "/api/status", basic(name, password))[0] == 200
        assert get_json(url, "/api/status", {"Authorization": f"Bearer {name}:{password}"})[0] == 200
        status, hdrs, _ = form(url, name, password)
        assert status == 200 and get_json(url, "/api/status", {"Cookie": cookie_of(hdrs)})[0] == 200
    assert get_json(url, "/api/status", {"Authorization": f"Bearer {PAIR[1]}"})[0] == 200   # the pair's short form
    assert get_json(url, "/api/status", {"Authorization": f"Bearer {ANN[1]}"})[0] == 401    # an account's is not
    assert get_json(url, "/api/status", basic("ann", BOB[1]))[0] == 401                      # bob's password is not ann's
    assert form(url, "carol", ANN[1])[0] == 400
    gate_of(app).throttle = Throttle()


def test_the_app_sees_the_user_who_signed_in(site):
    url, _, _ = site
    _, hdrs, _ = form(url, *BOB)
    status, conv = whoami(url, {"Cookie": cookie_of(hdrs)})
    assert status == 201
    assert get_json(url, f"/api/conversations/{conv['id']}", basic(*BOB))[0] == 200   # bob's, by cookie or Basic
    assert get_json(url, f"/api/conversations/{conv['id']}", basic(*ANN))[0] == 404


def test_a_removed_user_is_out_at_once(site, tmp_path):
    url, app, users = site
    users.add("carol", "carol-password")
    _, hdrs, _ = form(url, "carol", "carol-password")
    cookie = {"Cookie": cookie_of(hdrs)}
    assert get_json(url, "/api/status", cookie)[0] == 200
    users.remove("carol")
    assert get_json(url, "/api/status", cookie)[0] == 401
    assert get_json(url, "/api/status", basic("carol", "carol-password"))[0] == 401


def test_failures_lock_out_per_client_and_per_known_user(site):
    url, app, _ = site
    gate = gate_of(app)
    gate.throttle = Throttle(free=2)
    try:
        assert gate.user_key("ann") == "user:ann" and gate.user_key("reader") == "user:reader"
        assert gate.user_key("nobody") is None   # unknown names are not counted per user (unbounded table)
        statuses = [get_json(url, "/api/status", basic("ann", f"wrong-{i}"))[0] for i in range(4)]
        assert statuses[:3] == [401, 401, 401] and statuses[3] == 429
        assert get_json(url, "/api/status", basic(*ANN))[0] == 429   # locked: even the right password
        assert gate.throttle.retry_after(["user:ann"]) > 0 and gate.throttle.retry_after(["user:bob"]) == 0
        assert form(url, *BOB)[0] == 429   # the client (one loopback address here) is locked too
    finally:
        gate.throttle = Throttle()


def test_the_local_token_is_accepted_from_loopback_only(site):
    url, app, _ = site
    token = "tok-" + "x" * 40
    status, got = post_json(url, "/api/ask", {"question": "Who founded the Quillmarsh observatory?"},
                            {"X-Rag-Local-Token": token})
    assert status == 200 and got["found"]
    assert post_json(url, "/api/ask", {"question": "x"}, {"X-Rag-Local-Token": token[:-1] + "y"})[0] == 401
    gate = gate_of(app)
    assert gate.local_user({"client": ("127.0.0.1", 5)}, {b"x-rag-local-token": token.encode()})
    assert not gate.local_user({"client": ("192.168.1.9", 5)}, {b"x-rag-local-token": token.encode()})
    assert not Gate(None, PAIR).local_user({"client": ("127.0.0.1", 5)}, {b"x-rag-local-token": b""})


def test_serve_chooses_its_logins(tmp_path):
    from rag.errors import RagError
    from rag_ui.server import logins

    empty = Users(tmp_path / "none.json")
    assert logins("127.0.0.1", None, empty) is None
    assert logins("127.0.0.1", "u:long-password", empty) == ("u", "long-password")
    with pytest.raises(RagError, match="without a login"):
        logins("0.0.0.0", None, empty)
    users = Users(tmp_path / "users.json")
    users.add(*ANN)
    got = logins("0.0.0.0", None, users)   # accounts exist: a login everywhere, loopback too
    assert isinstance(got, Accounts) and got.pair is None and got.check(*ANN)
    assert isinstance(logins("127.0.0.1", None, users), Accounts)
    both = logins("0.0.0.0", "u:long-password", users)
    assert both.check("u", "long-password") and both.check(*ANN) and not both.check("u", ANN[1])
