"""The simulated caller's ear and fingers: the DTMF line, the scripted typist, the audio meter.

- ``KeyPad``: a key reaches the application that is reading keys at that moment (GET DATA, WAIT
  FOR DIGIT, a prompt with escape digits); a key pressed while nothing reads is lost, as on a
  real line (Asterisk drops DTMF frames between AGI commands and during MusicOnHold).
- ``Typist``: types the script's answers when the IVR asks, or presses timeline keys.
- ``AudioMeter``: follows what the caller hears (prompt, music, conversation, or nothing) and
  records every silence gap, split into dead air and waiting-for-input.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from acd.sim.model import CallerScript, CallOutcome, KeyPress, SilenceGap

ALL_KEYS = "0123456789*#"
PAUSE_KEY = "w"
PAUSE_S = 0.5
MIN_GAP_S = 0.05  # shorter silences (an engine round trip) are not recorded


class KeyPad:
    def __init__(self, on_press: Callable[[str, bool], None], on_listen: Callable[[str], None]) -> None:
        self._on_press = on_press
        self._on_listen = on_listen
        self._listener: asyncio.Future[str] | None = None
        self._accept = ""

    @property
    def listening(self) -> bool:
        return self._listener is not None and not self._listener.done()

    def listen(self, accept: str) -> asyncio.Future[str]:
        """Start reading one key among ``accept``; the future resolves with the key."""
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._listener, self._accept = fut, accept
        self._on_listen(accept)
        return fut

    def stop(self, fut: asyncio.Future[str]) -> None:
        if self._listener is fut:
            self._listener = None
        if not fut.done():
            fut.cancel()

    def press(self, digit: str) -> bool:
        heard = self.listening and digit in self._accept
        if heard:
            assert self._listener is not None
            self._listener.set_result(digit)
            self._listener = None
        self._on_press(digit, heard)
        return heard


class Typist:
    """Types a ``CallerScript``'s keys on a ``KeyPad`` (see ``CallerScript`` for the two forms)."""

    def __init__(self, script: CallerScript, sleep: Callable[[float], Awaitable[None]],
                 spawn: Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]]) -> None:
        self.script = script
        self.answers = script.answers()
        self._sleep = sleep
        self._spawn = spawn
        self._typing: asyncio.Task[None] | None = None
        self.pad: KeyPad | None = None

    def attach(self, pad: KeyPad) -> None:
        self.pad = pad

    def start_timeline(self) -> None:
        steps = self.script.timeline()
        if steps:
            self._typing = self._spawn(self._press_timeline(steps), "sim-caller-keys")

    def on_listen(self, accept: str) -> None:
        """The IVR reads keys: start the next answer if the caller is not typing one already."""
        if not self.answers or (self._typing is not None and not self._typing.done()):
            return
        first = next((k for k in self.answers[0] if k != PAUSE_KEY), None)
        if first is None or first not in accept:
            if first is None:
                self.answers.pop(0)
            return
        answer = self.answers.pop(0)
        self._typing = self._spawn(self._type(answer, self.script.think_s), "sim-caller-typing")

    async def _type(self, keys: str, first_delay: float) -> None:
        delay = first_delay
        for key in keys:
            if key == PAUSE_KEY:
                delay += PAUSE_S
                continue
            await self._sleep(delay)
            if self.pad is not None:
                self.pad.press(key)
            delay = self.script.inter_digit_s

    async def _press_timeline(self, steps: list[tuple[float, str]]) -> None:
        for delay, keys in steps:
            await self._type(keys, delay)

    def cancel(self) -> None:
        if self._typing is not None:
            self._typing.cancel()


class AudioMeter:
    """What the caller hears, as a sequence of states; silence is recorded as ``SilenceGap``s."""

    AUDIBLE = ("prompt", "moh", "bridged", "ringback")

    def __init__(self, outcome: CallOutcome, now: Callable[[], float]) -> None:
        self.outcome = outcome
        self._now = now
        self.state = "ringing"
        self.listening = False
        self._silence_since: float | None = None
        self._silence_kind = "idle"
        self.closed = False

    def set(self, state: str, listening: bool | None = None) -> None:
        if self.closed:
            return
        if listening is not None:
            self.listening = listening
        now = self._now()
        silent = state == "silence"
        kind = "input" if self.listening else "idle"
        if self._silence_since is not None and (not silent or kind != self._silence_kind):
            self._close_gap(now)
        if silent and self._silence_since is None:
            self._silence_since, self._silence_kind = now, kind
        self.state = state

    def _close_gap(self, now: float) -> None:
        assert self._silence_since is not None
        if now - self._silence_since >= MIN_GAP_S:
            self.outcome.silence_gaps.append(SilenceGap(self._silence_since, now, self._silence_kind))
        self._silence_since = None

    def close(self) -> None:
        if self._silence_since is not None:
            self._close_gap(self._now())
        self.closed = True
        self.state = "gone"


def keypress(outcome: CallOutcome | None, t: float, digit: str, heard: bool) -> None:
    if outcome is not None:
        outcome.keys.append(KeyPress(t, digit, heard))
