"""rag.users: salted scrypt hashes in a private file, checked in constant time; names and passwords
validated; unknown names refused like wrong passwords."""
import json
import os
import stat

import pytest

from rag.errors import UsersError
from rag.users import Users, hash_password, verify_password


def test_hash_is_salted_and_verifies(tmp_path):
    a, b = hash_password("correct horse"), hash_password("correct horse")
    assert a != b and a.startswith("scrypt$16384$8$1$")   # a fresh salt each time
    assert verify_password("correct horse", a) and verify_password("correct horse", b)
    assert not verify_password("correct hors", a)
    assert not verify_password("x", "garbage") and not verify_password("x", "md5$1$1$1$AA==$AA==")


def test_add_check_remove(tmp_path):
    users = Users(tmp_path / "users.json")
    assert not users and users.names() == []
    assert users.add("ann", "ann-password") is True
    assert users.add("bob", "bob-password") is True
    assert users.names() == ["ann", "bob"] and users
    assert users.check("ann", "ann-password") and users.check("ann", "ann-password")   # second: remembered
    assert not users.check("ann", "bob-password") and not users.check("carol", "ann-password")
    assert users.add("ann", "new-password-1") is False   # a new password
    assert not users.check("ann", "ann-password") and users.check("ann", "new-password-1")
    users.remove("bob")
    assert users.names() == ["ann"] and not users.check("bob", "bob-password")
    with pytest.raises(UsersError, match="no user"):
        users.remove("bob")


def test_the_file_is_private_and_holds_no_password(tmp_path):
    path = tmp_path / "users.json"
    Users(path).add("ann", "ann-password")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = path.read_text()
    assert "ann-password" not in text and json.loads(text)["users"]["ann"].startswith("scrypt$")
    assert [p.name for p in tmp_path.iterdir()] == ["users.json"]   # no temporary file left


@pytest.mark.parametrize("name", ["", "-ann", "a b", "a/b", "x" * 65, "ann\n"])
def test_bad_names_are_refused(tmp_path, name):
    with pytest.raises(UsersError, match="not allowed"):
        Users(tmp_path / "u.json").add(name, "long-enough")


def test_short_passwords_are_refused(tmp_path):
    with pytest.raises(UsersError, match="at least 8"):
        Users(tmp_path / "u.json").add("ann", "short")


def test_a_damaged_file_is_one_line(tmp_path):
    path = tmp_path / "u.json"
    path.write_text("{not json")
    with pytest.raises(UsersError, match="cannot read the users file"):
        Users(path).names()
    path.write_text('{"users": ["ann"]}')
    with pytest.raises(UsersError, match="not a users file"):
        Users(path).names()
    assert not Users(path).known("ann")
