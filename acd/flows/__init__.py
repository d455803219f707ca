"""IVR flows: a YAML flow language, its compiler, interpreter, registry and admin tools.

- ``acd.flows.compiler``: ``compile_flow_file`` / ``compile_flow_text`` -> ``CompiledFlow`` or
  ``FlowCompileError`` (every problem with file:line:column and step);
- ``acd.flows.interpreter``: ``FlowInterpreter(ports, clock).run(flow, channel, call)``;
- ``acd.flows.registry``: ``FlowRegistry(directory).reload()``, ``.for_dnis()``, watcher;
- ``acd.flows.cli``: ``acd flows validate|graph|run``.
The language is documented in ``ivr_flows/README.md``.
"""

from acd.flows.compiler import FlowCompileError, Problem, compile_flow_file, compile_flow_text
from acd.flows.interpreter import FlowInterpreter, FlowPorts, FlowResult
from acd.flows.model import CompiledFlow, FlowVersion
from acd.flows.ports_extra import (
    CallbackPort,
    CallbackRequest,
    CallContext,
    HttpPort,
    HttpPortError,
    HttpRequest,
    HttpResponse,
    QueueOutcome,
    QueuePort,
    RecordingControl,
)
from acd.flows.registry import FlowRegistry, FlowSet, ReloadReport

__all__ = [
    "CallContext", "CallbackPort", "CallbackRequest", "CompiledFlow", "FlowCompileError", "FlowInterpreter",
    "FlowPorts", "FlowRegistry", "FlowResult", "FlowSet", "FlowVersion", "HttpPort", "HttpPortError",
    "HttpRequest", "HttpResponse", "Problem", "QueueOutcome", "QueuePort", "RecordingControl", "ReloadReport",
    "compile_flow_file", "compile_flow_text",
]
