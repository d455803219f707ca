"""Carrying out the core's commands: each command type goes to the part of the service that
does it (the agent's leg, the waiting room, the timer wheel, the record, the push stream). A
command with no driver is a programming error, never an outcome.

Within one input the commands that act (the agent's Originate first of all) go before the
records and pushes, each kind in the order the core issued it. With a shared log only the
leader carries out what acts and writes the record; the other nodes push what each entry means
to their own desks and wallboards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from acd.routing.commands import (
    AnswerClaim, CancelLeg, CancelTimer, Command, ConfirmAgent, EndWait, Publish, Record, ReleaseAgent, Ring,
    StartRecording, StartTimer,
)
from acd.service.replica import for_this_node

if TYPE_CHECKING:
    from acd.service.acd import AcdService


def carry_out(acd: AcdService, commands: list[Command], *, lead: bool) -> None:
    """The commands that act (the agent's Originate first of all) before the records and
    pushes of the same input, each kind in the order the core issued it: the ring path does
    not wait for the timeline, the log lines and the spool writes of its routing decision."""
    acts = [c for c in commands if not isinstance(c, (Record, Publish))]
    if len(acts) < len(commands):
        commands = acts + [c for c in commands if isinstance(c, (Record, Publish))]
    for command in commands:
        if for_this_node(command, acd.node_id, lead):
            execute(acd, command)
        elif isinstance(command, (Record, Publish)):
            push_to_own_screens(acd, command)


def push_to_own_screens(acd: AcdService, command: Record | Publish) -> None:
    """A node that does not lead tells its own desks and wallboards what the entry it applied
    means, from the same commands the leader carried out, and keeps the record events on its own
    timeline of recent calls; the leader alone writes the record (and counts it on Prometheus),
    so each record is written once."""
    if isinstance(command, Publish):
        acd.observer.publish(command, count=False)
        return
    acd.recorder.remember(command.call_id, command.event)
    acd.observer.push(command)
    for feed in acd.feeds:
        feed.event(command.call_id, command.event)


def execute(acd: AcdService, command: Command) -> None:
    """Carry out one command on this node."""
    if isinstance(command, Record):
        acd.recorder.event(command.call_id, command.event)
        acd.observer.record(command)
    elif isinstance(command, Ring):
        acd.legs.ring_command(command)
    elif isinstance(command, CancelLeg):
        acd.legs.cancel_command(command)
    elif isinstance(command, EndWait):
        acd.room.end_wait(command.call_id, command.outcome)
    elif isinstance(command, AnswerClaim):
        acd.legs.answer_claim(command.offer_id, command.won)
    elif isinstance(command, StartTimer):
        acd.timers.start(command.timer_id, command.at)
    elif isinstance(command, CancelTimer):
        acd.timers.cancel(command.timer_id)
    elif isinstance(command, StartRecording):
        acd.legs.start_recording(command.call_id, command.channel)
    elif isinstance(command, ReleaseAgent):
        acd.legs.release(command.agent_id, command.ref)
    elif isinstance(command, ConfirmAgent):
        acd.legs.confirm(command)
    elif isinstance(command, Publish):
        acd.observer.publish(command)
    else:  # a command this driver does not know is a programming error, never an outcome
        raise TypeError(f"no driver for {type(command).__name__}")
