"""``acd flows validate|graph|run``: tools for the admins who write flows."""

from __future__ import annotations

import argparse
import dataclasses
import asyncio
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

from acd import events as rec
from acd.clihelp import Subparsers, usage_handler
from acd.clock import FakeClock, SystemClock
from acd.flows.compiler import Problem
from acd.flows.model import CompiledFlow
from acd.flows.registry import FlowRegistry, FlowSet

if TYPE_CHECKING:
    from acd.flows.interpreter import FlowPorts
    from acd.flows.memory import ChannelEvent, MemoryCallbacks, ScriptedQueue

DEFAULT_DIR = "ivr_flows"


def _settings_flows(args: argparse.Namespace) -> tuple[str, tuple[str, ...], str, str]:
    """(directory, sound dirs, default flow, fallback queue) from the settings, if they load."""
    try:
        from acd.settings import load_settings

        s = load_settings(getattr(args, "config", "config")).flows
        return s.directory, tuple(s.sound_dirs), s.default_flow, s.fallback_queue
    except Exception:  # noqa: BLE001 - the tools work without a config
        return DEFAULT_DIR, (), "main", "general"


def _registry(args: argparse.Namespace, directory: str | Path | None = None) -> FlowRegistry:
    from acd.flows.catalogue import load_catalogue

    conf_dir, sound_dirs, default_flow, _ = _settings_flows(args)
    if getattr(args, "sound_dir", None):
        sound_dirs = tuple(args.sound_dir)
    config = Path(getattr(args, "config", "config"))
    catalogue = load_catalogue(config) if (config / "queues.yaml").is_file() else None
    return FlowRegistry(directory or getattr(args, "dir", None) or conf_dir, sound_dirs=sound_dirs,
                        default_flow=default_flow, catalogue=catalogue)


def _print_problems(problems: Sequence[Problem], out: TextIO) -> None:
    for p in problems:
        print(str(p), file=out)


# --------------------------------------------------------------------------- validate
def cmd_validate(args: argparse.Namespace) -> int:
    conf_dir, *_ = _settings_flows(args)
    target = Path(args.path or conf_dir)
    if not target.exists():
        print(f"acd flows validate: {target} does not exist", file=sys.stderr)
        return 2
    directory = target if target.is_dir() else target.parent
    registry = _registry(args, directory)
    for d in registry.sound_dirs:
        if not Path(d).is_dir():
            print(f"warning: sound directory {d} does not exist", file=sys.stderr)
    import logging

    logging.getLogger("acd.flows.registry").disabled = True  # problems are printed below, once
    try:
        report = registry.reload()
    finally:
        logging.getLogger("acd.flows.registry").disabled = False
    problems: list[Problem] = []
    for file, probs in report.refused.items():
        if target.is_dir() or Path(file).resolve() == target.resolve() or target.name == "schedules.yaml":
            problems.extend(probs)
    if target.is_file() and target.suffix in (".yaml", ".yml") and not any(
        Path(k).resolve() == target.resolve() for k in list(report.refused) + [f.file for f in registry.current.flows.values()]
    ) and target.name != "schedules.yaml":
        print(f"acd flows validate: {target} is not a flow file", file=sys.stderr)
        return 2
    problems.sort(key=lambda p: (p.location.file, p.location.line, p.location.column))
    _print_problems(problems, sys.stdout)
    flows = registry.current.flows
    refused = {str(Path(p.location.file).resolve()) for p in problems}
    checked = [f for f in flows.values() if (target.is_dir() or Path(f.file).resolve() == target.resolve())
               and str(Path(f.file).resolve()) not in refused]
    for f in sorted(checked, key=lambda f: f.name):
        print(f"ok  {f.name:<20} {len(f.steps):>3} steps  {f.version}  {f.file}")
    if not registry.sound_dirs:
        print("note: no sound directory configured (flows.sound_dirs or --sound-dir): prompts were not checked", file=sys.stderr)
    if registry.catalogue is None:
        print(f"note: no queues.yaml in {getattr(args, 'config', 'config')}: queue, skill and language names were not checked",
              file=sys.stderr)
    if problems:
        files = len({p.location.file for p in problems})
        print(f"{len(problems)} problem(s) in {files} file(s); {len(checked)} file(s) ok", file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------- graph
def _find_flow(args: argparse.Namespace) -> tuple[CompiledFlow | None, FlowSet, FlowRegistry]:
    spec = Path(args.flow)
    directory = spec.parent if spec.suffix in (".yaml", ".yml") and spec.is_file() else None
    registry = _registry(args, directory)
    report = registry.reload()
    flowset = registry.current
    flow = None
    if args.flow == "auto":
        flow = flowset.for_dnis(getattr(args, "dnis", None))
    elif directory is not None:
        flow = next((f for f in flowset.flows.values() if Path(f.file).resolve() == spec.resolve()), None)
        key = next((k for k in report.refused if Path(k).resolve() == spec.resolve()), None)
        if key is not None:
            _print_problems(report.refused[key], sys.stderr)
            return None, flowset, registry
    else:
        flow = flowset.get(args.flow)
        refused = [k for k in report.refused if Path(k).stem == args.flow]
        if refused:
            for k in refused:
                _print_problems(report.refused[k], sys.stderr)
            if flow is None:
                return None, flowset, registry
    if flow is None:
        print(f"acd flows: no flow {args.flow!r} in {registry.directory} (flows: {', '.join(sorted(flowset.flows)) or 'none'})", file=sys.stderr)
    return flow, flowset, registry


def cmd_graph(args: argparse.Namespace) -> int:
    from acd.flows import graph

    flow, _, _ = _find_flow(args)
    if flow is None:
        return 1
    fmt = args.format
    if fmt in ("svg", "png"):
        if not graph.dot_available():
            print(f"acd flows graph: {fmt.upper()} needs Graphviz 'dot', which is not installed. Install graphviz, or use "
                  "--format dot (render it elsewhere) or --format mermaid (GitHub and many editors draw it).", file=sys.stderr)
            return 2
        try:
            rendered = graph.render(flow, fmt)
        except (RuntimeError, OSError) as exc:
            print(f"acd flows graph: {exc}", file=sys.stderr)
            return 2
        if fmt == "png":
            if not args.output or args.output == "-":
                if sys.stdout.isatty():
                    print("acd flows graph: PNG is binary: give -o FILE.png (or redirect standard output)", file=sys.stderr)
                    return 2
                sys.stdout.buffer.write(rendered)
                return 0
            Path(args.output).write_bytes(rendered)
            print(f"wrote {args.output} (png, flow {flow.name}, {len(flow.steps)} steps)", file=sys.stderr)
            return 0
        text = rendered.decode("utf-8")
    elif fmt == "mermaid":
        text = graph.to_mermaid(flow)
    else:
        text = graph.to_dot(flow)
    if args.output and args.output != "-":
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output} ({fmt}, flow {flow.name}, {len(flow.steps)} steps)", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


# --------------------------------------------------------------------------- run
def _load_fixtures(path: Path | None) -> dict[str, Any]:
    if path is None or not path.is_file():
        return {}
    from acd.yamlsrc import load_yaml

    data = load_yaml(path) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: fixtures must be a mapping (customers:, http:, queue:)")
    return data


def _build_ports(fixtures: dict[str, Any], queue_outcomes: Sequence[str] | None,
                 printer: Callable[[rec.CallEvent], None]) -> tuple[FlowPorts, tuple[ScriptedQueue, MemoryCallbacks]]:
    from acd.flows.httpport import AiohttpPort
    from acd.flows.interpreter import FlowPorts
    from acd.flows.memory import ListRecorder, MemoryCallbacks, MemoryDirectory, MemoryVerification, ScriptedQueue, StubHttp
    from acd.ports import CustomerSummary

    directory = MemoryDirectory()
    verification = MemoryVerification()
    for c in fixtures.get("customers") or []:
        known = {"id", "name", "account_number", "segment", "vip", "language", "phones", "pin", "dob", "dates"}
        customer = CustomerSummary(
            customer_id=str(c["id"]), name=str(c.get("name", c["id"])),
            account_number=str(c["account_number"]) if c.get("account_number") is not None else None,
            segment=c.get("segment"), vip=bool(c.get("vip", False)), language=c.get("language"),
            attributes={k: v for k, v in c.items() if k not in known},
        )
        directory.add(customer, [str(p) for p in c.get("phones") or []])
        if c.get("pin") is not None:
            verification.set_pin(customer.customer_id, str(c["pin"]))
        if c.get("dob") is not None:
            verification.set_date(customer.customer_id, "dob", str(c["dob"]))
    http_routes = {str(url): (int(spec.get("status", 200)), spec.get("json", {})) for url, spec in (fixtures.get("http") or {}).items()}
    http = StubHttp(http_routes) if http_routes or fixtures.get("offline", True) else AiohttpPort()

    class PrintingRecorder(ListRecorder):
        def event(self, call_id: str, event: rec.CallEvent) -> None:
            super().event(call_id, event)
            printer(event)

    outcomes = list(queue_outcomes or fixtures.get("queue") or ["answered"])
    queue = ScriptedQueue(outcomes)
    callbacks = MemoryCallbacks()
    return FlowPorts(directory, verification, PrintingRecorder(), queue, http, callbacks), (queue, callbacks)


def cmd_run_on_sim(args: argparse.Namespace) -> int:
    from acd.flows.simrun import run_on_sim
    from acd.settings import ConfigError, load_settings

    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"acd flows run: {exc}", file=sys.stderr)
        return 2
    if args.dir:
        settings = dataclasses.replace(settings, flows=dataclasses.replace(settings.flows, directory=args.dir))
    at = None
    if args.at:
        when = dt.datetime.fromisoformat(args.at)
        at = (when if when.tzinfo else when.astimezone()).timestamp()
    caller = "" if args.caller in ("", "withheld", "anonymous") else args.caller
    return asyncio.run(run_on_sim(settings, args.flow, caller=caller, keys=args.keys or "", dnis=args.dnis, at=at, out=sys.stdout))


def cmd_run(args: argparse.Namespace) -> int:
    if args.pbx:
        return cmd_run_on_sim(args)
    from acd.flows.interpreter import FlowInterpreter
    from acd.flows.memory import ScriptedChannel
    from acd.flows.ports_extra import CallContext

    flow, flowset, registry = _find_flow(args)
    if flow is None:
        return 1
    out = sys.stdout
    fixtures_path = Path(args.fixtures) if args.fixtures else registry.directory / "testdata" / "fixtures.yaml"
    try:
        fixtures = _load_fixtures(fixtures_path)
    except Exception as exc:  # noqa: BLE001
        print(f"acd flows run: {exc}", file=sys.stderr)
        return 2

    def show_channel(ev: ChannelEvent) -> None:
        icon = {"play": "play ", "key": "key  ", "wait": "wait ", "say_number": "say# ", "say_digits": "sayd ",
                "say_date": "sayD ", "set": "set  ", "exec": "exec ", "hangup": "hang ", "answer": "answ "}.get(ev.kind, ev.kind)
        detail = ev.detail
        if ev.kind == "key":
            detail = f"caller presses {ev.detail}"
        print(f"    {icon} {detail}", file=out)

    def show_record(event: rec.CallEvent) -> None:
        if isinstance(event, rec.FlowStep):
            extra = f"  {dict(event.inputs)}" if event.inputs else ""
            err = f"  ERROR {event.error}" if event.error else ""
            prefix = "" if event.flow == flow.name else f"{event.flow}."
            print(f"  = {prefix}{event.step} [{event.action}] -> {event.outcome}{extra}{err}", file=out)
        elif isinstance(event, rec.FlowFailure):
            print(f"  ! failure at {event.step}: {event.reason} -> fallback queue {event.fallback_queue}", file=out)

    ports, (queue, callbacks) = _build_ports(fixtures, args.queue_outcome.split(",") if args.queue_outcome else None, show_record)
    if args.at:
        at = dt.datetime.fromisoformat(args.at)
        if at.tzinfo is None:
            at = at.replace(tzinfo=ZoneInfo(flow.timezone))
        clock: Any = FakeClock(at.timestamp())
    else:
        clock = SystemClock()
    _, _, _, fallback_queue = _settings_flows(args)
    interpreter = FlowInterpreter(ports, clock, fallback_queue=fallback_queue, max_steps=args.max_steps)
    channel = ScriptedChannel(args.keys or "", on_event=show_channel)
    caller = None if args.caller in ("", "withheld", "anonymous") else args.caller
    call = CallContext(call_id="run-1", caller=caller, dnis=args.dnis, channel="Local/flows-run")
    print(f"call {call.call_id}: caller {caller or 'withheld'} -> {args.dnis or '-'}; flow {flow.name} {flow.version}", file=out)
    result = asyncio.run(interpreter.run(flow, channel, call, flows=flowset.flows))
    for _c, req in queue.requests:
        skills = ", ".join(f"{s.skill}>={s.min_proficiency}{'' if s.required else '?'}" for s in req.skills)
        print(f"  queued: {req.queue} skills [{skills}] priority {req.priority} language {req.language} "
              f"verification {req.verification.value} vip {req.vip} customer {req.customer_id}", file=out)
    for cb in callbacks.requests:
        print(f"  callback requested: {cb.number} queue {cb.queue}", file=out)
    left = channel.keys_left()
    print(f"result: {result.outcome} after {result.steps} steps (last step {result.last_step}; verification {result.verification})"
          + (f"; keys not used: {left}" if left else ""), file=out)
    return 0 if not result.failed else 1


# --------------------------------------------------------------------------- registration
def register(subparsers: Subparsers) -> None:
    p = subparsers.add_parser("flows", help="IVR flows: validate, graph, run offline",
                              description="Tools for IVR flow files (ivr_flows/*.yaml).")
    p.set_defaults(handler=usage_handler(p))
    sub = p.add_subparsers(dest="flows_command", metavar="ACTION")

    v = sub.add_parser("validate", help="check flow files; lists every problem with file:line:column",
                       description="Compile every flow (or one file) with all checks; exits 1 when any problem is found.")
    v.add_argument("path", nargs="?", help="a flow file or a directory (default: flows.directory from settings, else ivr_flows)")
    v.add_argument("--sound-dir", action="append", help="sound directory to check prompts against (repeatable; default: flows.sound_dirs)")
    v.add_argument("--config", default="config", help="settings directory (default: config)")
    v.set_defaults(handler=cmd_validate)

    g = sub.add_parser("graph", help="draw a flow (Graphviz DOT, SVG through dot, or Mermaid)",
                       description="Write a picture of a flow for admins.")
    g.add_argument("flow", help="flow name, or a path to a flow file")
    g.add_argument("--format", choices=("dot", "mermaid", "svg", "png"), default="dot",
                   help="output format (default dot; svg and png need Graphviz)")
    g.add_argument("-o", "--output", help="output file (default: standard output)")
    g.add_argument("--dir", help="flows directory (default: flows.directory from settings)")
    g.add_argument("--config", default="config", help="settings directory (default: config)")
    g.set_defaults(handler=cmd_graph)

    r = sub.add_parser("run", help="play a call through a flow offline and print a transcript",
                       description="Play one call through a flow with a scripted caller and in-memory stores. "
                                   "--keys lists what the caller types at each chance, comma-separated: "
                                   "'1,2345#,,9' (an empty group: the caller stays silent there).")
    r.add_argument("flow", help="flow name or path to a flow file ('auto': pick by --dnis)")
    r.add_argument("--caller", default="+441234567890", help="caller id (E.164), or 'withheld'")
    r.add_argument("--keys", default="", help="key groups typed by the caller, e.g. '1,2345#,9'")
    r.add_argument("--dnis", default=None, help="dialled number")
    r.add_argument("--at", default=None, help="time of the call, ISO (default now; without offset: the flow's time zone)")
    r.add_argument("--fixtures", default=None, help="YAML with customers:, http:, queue: (default <flows dir>/testdata/fixtures.yaml)")
    r.add_argument("--queue-outcome", default=None, help="what queue steps return, comma-separated in turn (default answered)")
    r.add_argument("--max-steps", type=int, default=500)
    r.add_argument("--pbx", action="store_true",
                   help="run the call on the engine against the simulated PBX (real FastAGI/AMI) and the configured "
                        "customer store and queues, instead of in-memory stand-ins")
    r.add_argument("--dir", help="flows directory (default: flows.directory from settings)")
    r.add_argument("--sound-dir", action="append", help=argparse.SUPPRESS)
    r.add_argument("--config", default="config", help="settings directory (default: config)")
    r.set_defaults(handler=cmd_run)
