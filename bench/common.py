"""Shared helpers: percentiles and the result table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


@dataclass
class Row:
    suite: str
    case: str
    figures: dict[str, float | str] = field(default_factory=dict)
    target: str = ""
    met: bool | None = None  # None: no target for this row

    def to_json(self) -> dict:
        return asdict(self)


def fmt(v) -> str:
    if isinstance(v, float):
        if v != v:
            return "n/a"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.3g}"
    return str(v)


def render_table(rows: list[Row]) -> str:
    lines = ["| suite | case | figures | target | met |", "|---|---|---|---|---|"]
    for r in rows:
        figs = ", ".join(f"{k} {fmt(v)}" for k, v in r.figures.items())
        met = "" if r.met is None else ("met" if r.met else "NOT met")
        lines.append(f"| {r.suite} | {r.case} | {figs} | {r.target} | {met} |")
    return "\n".join(lines)
