"""Typed AMI frames: what the codec yields and what the client hands to the engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Iterable, Iterator
from typing import overload


class Headers:
    """Ordered multi-map of AMI headers. Lookup ignores case; keys keep their spelling;
    repeated keys (``ChanVariable``, ``Variable``) are all kept in order."""

    __slots__ = ("_pairs", "_index")

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._pairs: list[tuple[str, str]] = [(str(k), str(v)) for k, v in pairs]
        self._index: dict[str, str] | None = None

    @classmethod
    def _trusted(cls, pairs: list[tuple[str, str]]) -> Headers:
        """From the codec: pairs already are str tuples (skips the copy on the hot path)."""
        h = cls.__new__(cls)
        h._pairs = pairs
        h._index = None
        return h

    def _lookup(self) -> dict[str, str]:
        index = self._index
        if index is None:
            index = {}
            for k, v in self._pairs:
                index.setdefault(k.lower(), v)
            self._index = index
        return index

    @overload
    def get(self, key: str) -> str | None: ...
    @overload
    def get(self, key: str, default: str) -> str: ...
    @overload
    def get(self, key: str, default: str | None) -> str | None: ...
    def get(self, key: str, default: str | None = None) -> str | None:
        return self._lookup().get(key.lower(), default)

    def get_all(self, key: str) -> list[str]:
        lk = key.lower()
        return [v for k, v in self._pairs if k.lower() == lk]

    def __getitem__(self, key: str) -> str:
        value = self._lookup().get(key.lower())
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._lookup()

    def items(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self._pairs]

    def keys(self) -> list[str]:
        return [k for k, _ in self._pairs]

    def add(self, key: str, value: str) -> None:
        self._pairs.append((key, value))
        if self._index is not None:
            self._index.setdefault(key.lower(), value)

    def __len__(self) -> int:
        return len(self._pairs)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.items())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and other.items() == self.items()

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"

    def as_dict(self) -> dict[str, str]:
        """First value of each key (for logging and simple lookups)."""
        out: dict[str, str] = {}
        for k, v in self._pairs:
            out.setdefault(k, v)
        return out


@dataclass(frozen=True)
class Banner:
    text: str

    @property
    def version(self) -> str:
        return self.text.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Response:
    headers: Headers
    output: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.headers.get("Response", "")

    @property
    def ok(self) -> bool:
        return self.status in ("Success", "Follows", "Goodbye")

    @property
    def action_id(self) -> str | None:
        return self.headers.get("ActionID")

    @property
    def message(self) -> str | None:
        return self.headers.get("Message")

    @overload
    def get(self, key: str) -> str | None: ...
    @overload
    def get(self, key: str, default: str) -> str: ...
    def get(self, key: str, default: str | None = None) -> str | None:
        return self.headers.get(key, default)


class Event:
    """An AMI event. A plain slotted class, not a dataclass: events are nearly all the traffic."""

    __slots__ = ("headers", "name")

    def __init__(self, headers: Headers, name: str = "") -> None:
        self.headers = headers
        self.name = name or headers.get("Event", "")  # the value of ``Event:``

    @property
    def action_id(self) -> str | None:
        return self.headers.get("ActionID")

    @overload
    def get(self, key: str) -> str | None: ...
    @overload
    def get(self, key: str, default: str) -> str: ...
    def get(self, key: str, default: str | None = None) -> str | None:
        return self.headers.get(key, default)

    def __getitem__(self, key: str) -> str:
        return self.headers[key]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and other.headers == self.headers

    def __repr__(self) -> str:
        return f"Event(headers={self.headers!r})"


@dataclass(frozen=True)
class Action:
    headers: Headers

    @property
    def name(self) -> str:
        return self.headers.get("Action", "")

    @property
    def action_id(self) -> str | None:
        return self.headers.get("ActionID")

    @overload
    def get(self, key: str) -> str | None: ...
    @overload
    def get(self, key: str, default: str) -> str: ...
    def get(self, key: str, default: str | None = None) -> str | None:
        return self.headers.get(key, default)


Frame = Banner | Response | Event
