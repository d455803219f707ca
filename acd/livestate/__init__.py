"""The live-state store: the facts that must be atomic across engine nodes (which offer holds an
agent, which agent leg won a caller), in-process or in Redis behind one interface."""

from acd.livestate.base import LiveStore, StoreUnavailable
from acd.livestate.memory import MemoryLiveStore

__all__ = ["LiveStore", "MemoryLiveStore", "StoreUnavailable"]
