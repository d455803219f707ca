"""The contacts webhook's token (``POST /api/v1/webhooks/contacts``), kept like users' tokens.

The settings hold only its slow salted hash (``customers.webhook_token_hash``, scrypt from
``acd.secrets.hash_secret``), never the token. A token is ``webhook.<random>``: the id part lets a
token of another shape be refused without a KDF; a right-shaped one costs one scrypt (run by the
caller within the sign-in guard's bounds), after which it is remembered by the SHA-256 of the hash
and the token (never the token itself) for the life of the process. The compare is constant-time
(``verify_secret``). ``acd customers webhook-token`` makes a new token and the hash to configure."""

from __future__ import annotations

import hashlib
import secrets as pysecrets

from acd.secrets import Secret, hash_secret, verify_secret

PREFIX = "webhook."
MAX_REMEMBERED = 64  # verified (hash, token) digests kept; a new configured hash needs its own


def new_webhook_token() -> tuple[str, str]:
    """A new random token and its hash (for ``customers.webhook_token_hash``). Show the token once."""
    token = PREFIX + pysecrets.token_urlsafe(32)
    return token, hash_secret(Secret(token))


def well_formed(token: str) -> bool:
    """True when ``token`` has the webhook's shape; any other is refused without a KDF."""
    return token.startswith(PREFIX) and len(token) > len(PREFIX) and len(token) <= 256


class WebhookTokenCheck:
    def __init__(self) -> None:
        self._verified: dict[str, None] = {}

    @staticmethod
    def _key(token: str, stored_hash: str) -> str:
        return hashlib.sha256(f"{stored_hash}\0{token}".encode()).hexdigest()

    def cached(self, token: str, stored_hash: str) -> bool:
        """True when this token matched this hash before: no KDF, safe on the event loop."""
        return well_formed(token) and self._key(token, stored_hash) in self._verified

    def verify(self, token: str, stored_hash: str) -> bool:
        """Slow (one scrypt) unless verified before: run it in a thread."""
        if not well_formed(token) or not stored_hash:
            return False
        key = self._key(token, stored_hash)
        if key in self._verified:
            return True
        if not verify_secret(Secret(token), stored_hash):
            return False
        self._verified[key] = None
        while len(self._verified) > MAX_REMEMBERED:
            del self._verified[next(iter(self._verified))]
        return True
