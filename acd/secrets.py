"""Secret values (PINs, memorable dates, card numbers) that cannot leak by accident.

A ``Secret`` prints as ``***`` in str(), repr(), f-strings, logs and exception messages; the
digits come out only through ``reveal()``, which code calls at the one place that needs them
(hashing, or comparing against a stored hash).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import NoReturn

MASK = "***"


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return hmac.compare_digest(self._value.encode(), other._value.encode())
        return NotImplemented

    def __hash__(self) -> int:  # never the value's hash: it could be brute-forced
        return id(self)

    def __reduce__(self) -> NoReturn:  # refuse to be pickled into a spool or a cache
        raise TypeError("a Secret is never serialised")


# scrypt parameters: n=2**14, r=8, p=1 is ~16 MiB and ~50 ms here, a slow salted KDF.
_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1


def hash_secret(secret: Secret, *, n: int = _SCRYPT_N) -> str:
    """Hash with scrypt and a fresh 16-byte salt; returns ``scrypt$n$r$p$salt_hex$hash_hex``."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(
        secret.reveal().encode(), salt=salt, n=n, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return f"scrypt${n}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_secret(secret: Secret, stored: str) -> bool:
    """Constant-time check of ``secret`` against a ``hash_secret`` string."""
    try:
        scheme, n, r, p, salt_hex, hash_hex = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            secret.reveal().encode(),
            salt=bytes.fromhex(salt_hex),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(hash_hex) // 2,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest.hex(), hash_hex)
