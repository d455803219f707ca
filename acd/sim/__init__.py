"""A simulated Asterisk 22: real AMI and FastAGI bytes over loopback TCP, scripted callers and
agents. Tests and the demo run the engine against it on machines without an Asterisk."""

from acd.sim.model import AgentBehaviour, CallerScript, CallOutcome, KeyPress, Recording, SilenceGap
from acd.sim.pbx import CallHandle, SimEvent, SimPbx

__all__ = ["AgentBehaviour", "CallHandle", "CallerScript", "CallOutcome", "KeyPress", "Recording", "SilenceGap", "SimEvent", "SimPbx"]
