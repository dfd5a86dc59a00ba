"""Accounts for ``rag serve``: a users file of names and salted password hashes.

The file (``Config.users_path()``: ``Config.users_file``, default ``users.json`` inside the index folder)
is JSON, ``{"format": 1, "users": {NAME: "scrypt$N$r$p$SALT$HASH"}}`` (salt and hash in base64; scrypt
from hashlib with N=2**14, r=8, p=1, a 16-byte random salt and a 32-byte key). It is written whole to a
temporary file, fsynced and renamed, readable by its owner only (0600). ``check`` compares in constant
time and spends the same scrypt work on an unknown name, so a wrong name and a wrong password look the
same. ``rag users add|remove|list`` (rag.cli) edits it; the server's Gate (ui/gate.py) checks logins
against it and throttles failures. No plain password is ever stored or logged.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
from pathlib import Path

from rag.errors import UsersError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 8
N, R, P, KEY_BYTES = 2 ** 14, 8, 1, 32
_DUMMY = None   # a hash to check unknown names against (same work as a real check)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=N, r=R, p=P, dklen=KEY_BYTES, maxmem=64 << 20)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether password matches a hash_password() string (constant-time compare; False if malformed)."""
    try:
        kind, n, r, p, salt, key = stored.split("$")
        if kind != "scrypt":
            return False
        n, r, p = int(n), int(r), int(p)
        if not (2 <= n <= 2 ** 20 and 1 <= r <= 32 and 1 <= p <= 16):
            return False
        want = base64.b64decode(key, validate=True)
        got = hashlib.scrypt(password.encode("utf-8", "replace"), salt=base64.b64decode(salt, validate=True),
                             n=n, r=r, p=p, dklen=len(want), maxmem=256 << 20)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise UsersError(f"user name {str(name)[:70]!r} is not allowed: use 1-64 letters, digits, '.', '_', '@' "
                         "or '-', starting with a letter or digit")
    return name


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise UsersError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    return password


class Users:
    """The accounts in a users file (see the module docstring)."""

    def __init__(self, path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._ok: dict[str, bytes] = {}   # name -> keyed digest of its last right password (checks skip scrypt)
        self._key = secrets.token_bytes(32)

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise UsersError(f"{self.path}: cannot read the users file ({exc}); fix or remove it") from None
        users = data.get("users") if isinstance(data, dict) else None
        if not isinstance(users, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in users.items()):
            raise UsersError(f"{self.path}: not a users file (expected {{\"users\": {{NAME: HASH}}}}); fix or remove it")
        return users

    def _write(self, users: dict[str, str]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".users-", dir=self.path.parent)   # created 0600
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump({"format": 1, "users": dict(sorted(users.items()))}, f, indent=1)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise UsersError(f"{self.path}: cannot write the users file ({exc})") from None
        self._ok.clear()

    def names(self) -> list[str]:
        return sorted(self._read())

    def __bool__(self) -> bool:
        return bool(self._read())

    def add(self, name: str, password: str, *, replace: bool = True) -> bool:
        """Add name (or set its password); True if it is new."""
        check_name(name)
        check_password(password)
        with self._lock:
            users = self._read()
            new = name not in users
            if not new and not replace:
                raise UsersError(f"user {name!r} already exists")
            users[name] = hash_password(password)
            self._write(users)
        return new

    def remove(self, name: str) -> None:
        with self._lock:
            users = self._read()
            if name not in users:
                raise UsersError(f"no user {str(name)[:70]!r} in {self.path}")
            del users[name]
            self._write(users)

    def known(self, name: str | None) -> bool:
        try:
            return isinstance(name, str) and name in self._read()
        except UsersError:
            return False

    def check(self, name: str, password: str) -> bool:
        """Whether name's password is password. Unknown names cost the same scrypt work. A right
        password is remembered as a keyed digest in memory, so repeated HTTP Basic logins stay fast."""
        global _DUMMY
        if not isinstance(name, str) or not isinstance(password, str):
            return False
        digest = hmac.new(self._key, password.encode("utf-8", "replace"), hashlib.sha256).digest()
        remembered = self._ok.get(name)
        if remembered is not None and hmac.compare_digest(remembered, digest) and self.known(name):
            return True
        stored = self._read().get(name)
        if stored is None:
            _DUMMY = _DUMMY or hash_password("not a password")
            verify_password(password, _DUMMY)
            return False
        if verify_password(password, stored):
            self._ok[name] = digest
            return True
        return False
