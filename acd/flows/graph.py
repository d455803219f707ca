"""Pictures of a flow for admins: Graphviz DOT (and SVG through ``dot``) or Mermaid."""

from __future__ import annotations

import shutil
import subprocess

from acd.flows.model import (
    INPUT_ACTIONS,
    TERMINAL_OUTCOMES,
    BranchParams,
    CallbackParams,
    CollectAccountParams,
    CollectParams,
    CompiledFlow,
    HttpParams,
    LanguageParams,
    MenuParams,
    PlayParams,
    QueueParams,
    ReturnParams,
    ScheduleParams,
    SetParams,
    Step,
    SubflowParams,
    TransferParams,
    VoicemailParams,
    step_edges,
)

_SHAPES = {"menu": "box3d", "collect": "box3d", "collect_account": "box3d", "verify_pin": "box3d", "verify_date": "box3d",
           "branch": "diamond", "schedule": "diamond", "lookup_caller": "diamond", "hangup": "doublecircle",
           "queue": "cds", "transfer": "cds", "voicemail": "cds", "subflow": "component", "return": "doublecircle"}


def _detail(step: Step) -> str:
    p = step.params
    if isinstance(p, PlayParams):
        return " / ".join(pr.source for pr in p.prompts)
    if isinstance(p, MenuParams):
        return " / ".join(pr.source for pr in p.prompt)
    if isinstance(p, (CollectParams, CollectAccountParams)):
        return f"-> {p.into}" + (" (secret)" if p.digits.secret else "")
    if isinstance(p, SetParams):
        return ", ".join(f"{n} = {e.text}" for n, e in p.assignments)
    if isinstance(p, BranchParams):
        return " | ".join(c.condition.text for c in p.cases)
    if isinstance(p, ScheduleParams):
        return p.schedule.name
    if isinstance(p, HttpParams):
        return f"{p.method} {p.url.source}"
    if isinstance(p, QueueParams):
        skills = ", ".join(s.skill.source for s in p.skills)
        return p.queue.source + (f" [{skills}]" if skills else "")
    if isinstance(p, TransferParams):
        if p.number:
            return p.number.source
        return ",".join(t.source if t else "" for t in (p.context, p.exten, p.priority))
    if isinstance(p, VoicemailParams):
        return p.mailbox.source
    if isinstance(p, CallbackParams):
        return p.queue.source
    if isinstance(p, SubflowParams):
        return p.flow
    if isinstance(p, LanguageParams):
        return p.language.source
    if isinstance(p, ReturnParams):
        return p.outcome
    return ""


def _short(text: str, n: int = 48) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _edges(flow: CompiledFlow, step: Step) -> list[tuple[str, str]]:
    edges = step_edges(step)
    merged: dict[str, list[str]] = {}
    for outcome, target in edges:
        merged.setdefault(target, []).append(outcome)
    return [(t, ", ".join(outs)) for t, outs in merged.items()]


def _ends(step: Step) -> list[str]:
    if step.action in ("return", "hangup"):
        return []  # the step itself is drawn as an end
    return sorted(o for o in TERMINAL_OUTCOMES.get(step.action, ()) if o not in step.routes)


def _dot_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(flow: CompiledFlow) -> str:
    lines = [f"digraph {_dot_str(flow.name)} {{", "  rankdir=TB;",
             '  node [fontname="Helvetica", fontsize=10, shape=box, style="rounded,filled", fillcolor="#f5f7fa"];',
             '  edge [fontname="Helvetica", fontsize=9];',
             f'  label={_dot_str(flow.name + (" — " + flow.description if flow.description else "") + "  (" + str(flow.version) + ")")}; labelloc=t;',
             '  __start [shape=circle, label="", width=0.2, fillcolor="#333333"];',
             f"  __start -> {_dot_str(flow.start)};"]
    for step in flow.steps.values():
        detail = _short(_detail(step))
        label = f"{step.name}\\n[{step.action}]" + (f"\\n{detail.replace(chr(34), chr(39))}" if detail else "")
        fill = "#e3f2fd" if step.action in INPUT_ACTIONS else "#fff3e0" if step.action in ("queue", "transfer", "voicemail", "hangup", "return") else "#f5f7fa"
        lines.append(f'  {_dot_str(step.name)} [shape={_SHAPES.get(step.action, "box")}, label="{label}", fillcolor="{fill}"];')
        for target, label_ in _edges(flow, step):
            style = ', style=dashed, color="#c62828"' if label_ == "error" else ""
            lines.append(f"  {_dot_str(step.name)} -> {_dot_str(target)} [label={_dot_str(label_)}{style}];")
        for end in _ends(step):
            end_id = f"__end_{step.name}_{end}"
            lines.append(f'  {_dot_str(end_id)} [shape=plaintext, style="", label={_dot_str("(" + end + ")")}];')
            lines.append(f"  {_dot_str(step.name)} -> {_dot_str(end_id)};")
    lines.append('  __failure [shape=note, fillcolor="#ffebee", label="on_failure: apology, then queue"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mm_id(name: str) -> str:
    return "s_" + name


def _mm_text(s: str) -> str:
    return s.replace('"', "'").replace("{", "(").replace("}", ")").replace("|", "/").replace("<", "‹").replace(">", "›")


def to_mermaid(flow: CompiledFlow) -> str:
    lines = ["flowchart TD", f"  start((start)) --> {_mm_id(flow.start)}"]
    for step in flow.steps.values():
        detail = _mm_text(_short(_detail(step)))
        text = f"{step.name}<br/><i>{step.action}</i>" + (f"<br/>{detail}" if detail else "")
        if step.action in ("branch", "schedule", "lookup_caller"):
            lines.append(f'  {_mm_id(step.name)}{{"{text}"}}')
        elif step.action in INPUT_ACTIONS:
            lines.append(f'  {_mm_id(step.name)}[/"{text}"/]')
        elif step.action in ("hangup", "return", "queue", "transfer", "voicemail"):
            lines.append(f'  {_mm_id(step.name)}(["{text}"])')
        else:
            lines.append(f'  {_mm_id(step.name)}["{text}"]')
        for target, label in _edges(flow, step):
            arrow = "-.->" if label == "error" else "-->"
            lines.append(f'  {_mm_id(step.name)} {arrow}|"{_mm_text(label)}"| {_mm_id(target)}')
    return "\n".join(lines) + "\n"


def dot_available() -> bool:
    return shutil.which("dot") is not None


def to_svg(flow: CompiledFlow, *, timeout_s: float = 30.0) -> str:
    """SVG through Graphviz ``dot``; raises ``RuntimeError`` when dot is not installed or fails."""
    return render(flow, "svg", timeout_s=timeout_s).decode()


def render(flow: CompiledFlow, fmt: str, *, timeout_s: float = 30.0) -> bytes:
    """The flow drawn by Graphviz ``dot`` as ``svg`` or ``png`` bytes; raises ``RuntimeError``
    when dot is not installed, fails, or takes longer than ``timeout_s``."""
    if fmt not in ("svg", "png"):
        raise ValueError(f"dot output format {fmt!r} is not svg or png")
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError("Graphviz 'dot' is not installed")
    try:
        done = subprocess.run([exe, f"-T{fmt}"], input=to_dot(flow).encode(), capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"dot took longer than {timeout_s:g} s") from None
    if done.returncode != 0:
        raise RuntimeError("dot failed: " + done.stderr.decode(errors="replace").strip())
    return done.stdout
