"""ChanSpy on the simulated PBX: a supervisor's phone, originated with ``Application: ChanSpy``,
joins an agent's live channel to listen, whisper to the agent, or barge in on both sides
(Asterisk 22's app_chanspy: ``ChanSpy([chanprefix][,options])``).

Modelled: the first live channel whose name starts with ``chanprefix`` (case-insensitive, as
Asterisk compares) is spied on, bridged ones only with option ``b``; ``ChanSpyStart`` and
``ChanSpyStop`` events carry the ``Spyer*`` and ``Spyee*`` channel headers; option ``E`` ends
the spy leg when the spied-on channel hangs up (without it the leg stays until the supervisor
hangs up); the mode is barge with ``B``, whisper with ``w`` (or ``W``), listen otherwise. With
no channel to spy on, the leg hangs up at once (what ``S`` does in Asterisk). Audio is not
modelled: the leg records who listened to whom, in which mode, from when to when."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from acd.sim.channels import SimChannel

if TYPE_CHECKING:
    from acd.sim.pbx import OriginateSpec, SimPbx


@dataclass
class SpyLeg:
    spyer: str  # the supervisor's channel name
    spyee: str  # the agent's channel name
    mode: str  # listen | whisper | barge
    options: str
    started: float
    ended: float | None = None


def spy_mode(options: str) -> str:
    """What a ChanSpy option string does: ``B`` barges, ``w``/``W`` whispers, else listen."""
    if "B" in options:
        return "barge"
    if "w" in options or "W" in options:
        return "whisper"
    return "listen"


def _target(pbx: SimPbx, spyer: SimChannel, prefix: str, bridged_only: bool) -> SimChannel | None:
    for ch in pbx.channels.values():
        if ch is spyer or ch.gone.is_set() or not ch.name.lower().startswith(prefix.lower()):
            continue
        if bridged_only and ch.bridge is None:
            continue
        return ch
    return None


async def run_chanspy(pbx: SimPbx, ch: SimChannel, spec: OriginateSpec) -> None:
    """The spy leg's dialplan once its phone answered: find the channel, spy, end, hang up."""
    prefix, _, options = spec.data.partition(",")
    pbx.step(ch, ch.context, ch.exten, 1, "ChanSpy", spec.data)
    target = _target(pbx, ch, prefix.strip(), "b" in options)
    if target is not None:
        leg = SpyLeg(ch.name, target.name, spy_mode(options), options, pbx.time.now())
        pbx.spy_legs.append(leg)
        pbx.emit("ChanSpyStart", ch.headers("Spyer") + target.headers("Spyee"))
        if "E" in options:
            await pbx._first(ch.gone, target.gone)
        else:
            await pbx._first(ch.gone)
        leg.ended = pbx.time.now()
        pbx.emit("ChanSpyStop", ch.headers("Spyer") + target.headers("Spyee"))
    if not ch.gone.is_set():
        ch.hangup_cause = 16
    pbx._finish(ch, h_exten=False)
