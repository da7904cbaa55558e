"""Keyed pseudonyms: HMAC-SHA256 of a user id with a server secret, never the id itself.

Without the secret nobody can tell which Telegram user a row belongs to, not even by hashing
every possible id. If the secret is lost a new one is made: old rows stay, unlinkable.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)
SECRET_FILE = "secret.key"
PSEUDONYMS_KEPT = 4096
"""Senders whose pseudonym a Pseudonymizer remembers (see `Pseudonymizer.__init__`)."""


def load_secret(data_dir: Path | str, from_env: str | None = None) -> bytes:
    """`MASKBOT_SECRET` when set, else the secret in `data_dir`, created (mode 0600) when missing."""
    value = from_env if from_env is not None else os.environ.get("MASKBOT_SECRET")
    if value:
        return value.encode()
    path = Path(data_dir) / SECRET_FILE
    if path.exists():
        stored = path.read_text().strip()
        if stored:
            return stored.encode()
        log.warning("secret file %s is empty; making a new secret (earlier pseudonyms no longer link)", path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = secrets.token_hex(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(fresh + "\n")
    os.chmod(path, 0o600)
    log.info("made a new pseudonym secret in %s", path)
    return fresh.encode()


class Pseudonymizer:
    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("the pseudonym secret must not be empty")
        self._secret = secret
        # One update asks for its sender's pseudonym at every step (rate limit, language, rows,
        # /forget's wait): the recent senders' are kept, so each is computed once, not per step.
        # In memory only, like the ids the updates carry.
        self._recent = functools.lru_cache(maxsize=PSEUDONYMS_KEPT)(self._pseudonym)

    def __call__(self, user_id: int | str) -> str:
        return self._recent(str(user_id))

    def _pseudonym(self, user_id: str) -> str:
        return hmac.new(self._secret, user_id.encode(), hashlib.sha256).hexdigest()

    def digest(self, data: bytes) -> bytes:
        return hmac.new(self._secret, data, hashlib.sha256).digest()

    def derive(self, purpose: str) -> Pseudonymizer:
        """A keyed hash of its own for `purpose`, under the key HMAC(secret, purpose): what it
        makes (a tag in a button, say) cannot be linked to the stored pseudonyms, nor to another
        purpose's, without the secret."""
        return Pseudonymizer(self.digest(f"maskbot/{purpose}".encode()))
