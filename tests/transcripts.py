"""Reading the byte transcripts recorded from a real Asterisk 22.10.1 (../shared/asterisk/)."""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from pathlib import Path

SHARED = Path(os.environ.get("ACD_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared")) / "asterisk"
TRANSCRIPTS = SHARED / "transcripts"
CONNECT = SHARED / "connect"

_LINE = re.compile(r"^\+\s*([\d.]+)\s+(?:[\d.]+\s+)?(SEND|RECV|AST>|AGI>)\s+(b(['\"]).*\4)\s*$")


@dataclass(frozen=True)
class Chunk:
    t: float
    direction: str  # SEND/RECV (AMI) or AST>/AGI> (FastAGI)
    data: bytes


def read_transcript(path: Path) -> list[Chunk]:
    chunks = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _LINE.match(line)
        if m:
            chunks.append(Chunk(float(m.group(1)), m.group(2), ast.literal_eval(m.group(3))))
    return chunks


def received(path: Path, direction: str = "RECV") -> bytes:
    return b"".join(c.data for c in read_transcript(path) if c.direction == direction)


def ami_transcripts() -> list[Path]:
    return sorted(TRANSCRIPTS.glob("ami_*.transcript")) + sorted(CONNECT.glob("*/*/ami.txt"))


def agi_transcripts() -> list[Path]:
    return sorted(TRANSCRIPTS.glob("agi_session_*.txt")) + sorted(CONNECT.glob("*/*/agi_*.txt"))
