"""The aiohttp application's typed keys, one per use case (``acd.usecases``): a handler takes the
use case it needs, ``request.app[AGENTS]``, never the whole engine."""

from __future__ import annotations

from aiohttp import web

from acd.usecases.admin import Administration
from acd.usecases.agents import AgentStates
from acd.usecases.customers import Customers
from acd.usecases.interactions import Interactions
from acd.usecases.ops import Readiness
from acd.usecases.reports import Reports
from acd.usecases.supervise import Supervision
from acd.usecases.tasks import Tasks
from acd.usecases.wallboard import Wallboard
from acd.usecases.wiring import UseCases

AGENTS = web.AppKey("agents", AgentStates)
SUPERVISION = web.AppKey("supervision", Supervision)
WALLBOARD_VIEW = web.AppKey("wallboard", Wallboard)
INTERACTIONS = web.AppKey("interactions", Interactions)
REPORTS = web.AppKey("reports", Reports)
CUSTOMERS = web.AppKey("customers", Customers)
TASKS = web.AppKey("tasks", Tasks)
ADMIN_CASES = web.AppKey("admin", Administration)
READINESS = web.AppKey("readiness", Readiness)


def mount_use_cases(app: web.Application, cases: UseCases) -> None:
    app[AGENTS], app[SUPERVISION], app[WALLBOARD_VIEW] = cases.agents, cases.supervision, cases.wallboard
    app[INTERACTIONS], app[REPORTS], app[CUSTOMERS] = cases.interactions, cases.reports, cases.customers
    app[TASKS], app[ADMIN_CASES], app[READINESS] = cases.tasks, cases.admin, cases.readiness
