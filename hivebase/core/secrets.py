"""Key material: random credentials, their hashes, and encryption at rest.

App keys are checked by SHA-256 hash (they are 128-bit random, so a plain hash cannot be reversed) and kept
encrypted with a key that lives outside the database, so the operator can show them again while a leak of
the database alone reveals nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

SECRET_FILE = "secret.key"


def random_key(nbytes: int = 16) -> str:
    """A random hex credential (16 bytes = 128 bits)."""
    return secrets.token_hex(nbytes)


ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def random_id(length: int = 10) -> str:
    """A random alphanumeric id such as Bmob's objectIds (62**10 ≈ 2**59), from one draw of randomness."""
    n = secrets.randbits(6 * length)
    out = []
    for _ in range(length):
        n, r = divmod(n, 62)
        out.append(ALPHABET[r])
    return "".join(out)


def new_secret(prefix: str) -> str:
    """A bearer secret: ``prefix`` + 256 random bits (``hbk_…`` API keys are easy to grep for when leaked)."""
    return prefix + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """High-entropy secrets need no slow hash: SHA-256 of 128+ random bits cannot be brute-forced."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def same_hash(key: str, stored: str) -> bool:
    return hmac.compare_digest(hash_key(key), stored)


class Vault:
    """Encrypts and decrypts credentials with the server secret."""

    def __init__(self, secret: str) -> None:
        digest = hashlib.sha256(secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))
        self._mac_key = hashlib.sha256(b"mac\0" + secret.encode()).digest()

    def mac(self, purpose: str, value: str) -> str:
        """A tag only this server (any of its processes) can make, e.g. a form's CSRF token."""
        return hmac.new(self._mac_key, f"{purpose}\0{value}".encode(), hashlib.sha256).hexdigest()

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def open(self, token: str) -> str | None:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except (InvalidToken, ValueError):
            return None

    @classmethod
    def for_data_dir(cls, data_dir: Path, configured: str | None = None, create: bool = True) -> Vault:
        if configured:
            return cls(configured)
        path = Path(data_dir) / SECRET_FILE
        if not path.exists():
            if not create:
                raise FileNotFoundError(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32))
        return cls(path.read_text().strip())
