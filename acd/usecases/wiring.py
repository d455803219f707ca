"""The engine's use cases as one immutable record, built once from already-built parts
(``acd.app``) and handed to the HTTP layer (``acd.http.api.add_api``)."""

from __future__ import annotations

from dataclasses import dataclass

from acd.usecases.admin import Administration
from acd.usecases.agents import AgentStates
from acd.usecases.customers import Customers
from acd.usecases.interactions import Interactions
from acd.usecases.ops import Readiness
from acd.usecases.reports import Reports
from acd.usecases.supervise import Supervision
from acd.usecases.tasks import Tasks
from acd.usecases.wallboard import Wallboard


@dataclass(frozen=True)
class UseCases:
    agents: AgentStates
    supervision: Supervision
    wallboard: Wallboard
    interactions: Interactions
    reports: Reports
    customers: Customers
    tasks: Tasks
    admin: Administration
    readiness: Readiness
