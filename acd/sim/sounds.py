"""How long the simulated PBX plays a sound file (simulated seconds).

Lengths of common Asterisk core sounds (en, 8 kHz); ``beep`` is the recorded ``endpos=3404``.
Anything else plays ``DEFAULT_SOUND_S``. ``SimPbx(sound_seconds=...)`` replaces the table.
"""

from __future__ import annotations

DEFAULT_SOUND_S = 1.5

SOUND_SECONDS: dict[str, float] = {
    "beep": 3404 / 8000,
    "silence/1": 1.0,
    "silence/2": 2.0,
    "queue-periodic-announce": 3.4,
    "queue-thereare": 1.1,
    "queue-callswaiting": 1.3,
    "queue-youarenext": 1.3,
    "queue-holdtime": 2.0,
    "queue-minutes": 0.7,
    "queue-thankyou": 1.6,
    "vm-goodbye": 0.8,
    "vm-enter-num-to-call": 2.1,
    "agent-pass": 1.6,
    "auth-thankyou": 0.9,
    "auth-incorrect": 1.4,
    "pls-hold-while-try": 2.3,
    "please-try-again": 1.2,
    "invalid": 1.5,
    "goodbye": 0.7,
    "welcome": 0.9,
}


def sound_length(name: str) -> float:
    base = name.rsplit("/", 1)[-1] if name.startswith(("en/", "custom/")) else name
    if base.startswith("digits/"):
        return 0.5
    return SOUND_SECONDS.get(base, DEFAULT_SOUND_S)
