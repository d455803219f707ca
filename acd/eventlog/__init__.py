"""The replicated event log and the leadership over it.

Every input event of the ACD core is appended here before its commands are carried out; the node
that holds the leader lease is the only one that routes, and every command it issues carries its
fencing token, refused once the lease has moved on. In-process for one node (``Memory*``), on Redis
for several (``Redis*``)."""

from acd.eventlog.base import EventLog, LeaderLease, SnapshotStore
from acd.eventlog.errors import EventLogError, LogGap, LogUnavailable, StaleLeader, Unavailable
from acd.eventlog.follower import Follower
from acd.eventlog.heartbeat import Heartbeat
from acd.eventlog.iterate import follow
from acd.eventlog.memory import MemoryEventLog, MemoryLeaderLease, MemorySnapshotStore
from acd.eventlog.outage import OutageMonitor
from acd.eventlog.rebuild import Rebuilt, rebuild
from acd.eventlog.timing import Backoff, RealSleeper, Sleeper, VirtualSleeper
from acd.eventlog.types import Entry, FencingToken, LogPosition, Record

__all__ = [
    "Backoff", "Entry", "EventLog", "EventLogError", "FencingToken", "Follower", "Heartbeat", "LeaderLease", "LogGap",
    "LogPosition", "LogUnavailable", "MemoryEventLog", "MemoryLeaderLease", "MemorySnapshotStore", "OutageMonitor",
    "Rebuilt", "Record", "RealSleeper", "Sleeper", "SnapshotStore", "StaleLeader", "Unavailable", "VirtualSleeper", "follow", "rebuild",
]
