"""The task routes (``/api/v1/tasks``): create, list (mine, my queues', a customer's, the
overdue or escalated ones), read with history, complete, cancel, reopen, reassign, reschedule.

Role rules as the rest of the API: an agent sees and works the tasks it owns and those of the
queues it serves (others answer 404: not confirmed to exist), creates them for itself or one of
its queues; a supervisor sees and assigns any. Wrap-up's task (``POST .../wrapup`` with a
``task``) comes through ``acd.usecases.tasks.Tasks.wrapup_task_input``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from acd.http.api import AGENT_OWN, ANY, SUPERVISOR, Route, _json_body, _user, register_routes
from acd.http.errors import Forbidden, Invalid, NotFound
from acd.http.times import json_reply
from acd.http.keys import TASKS
from acd.http.users import Role
from acd.logs import get_logger
from acd.store import tasks as store_tasks
from acd.tasks.model import PRIORITIES, Change, Owner, parse_priority

log = get_logger(__name__)

TASK_PROPS: dict[str, Any] = {
    "type": {"type": "string", "maxLength": 32, "description": "a type from config/tasks.yaml (callback, follow_up, case...)"},
    "title": {"type": "string", "nullable": True, "maxLength": 200},
    "notes": {"type": "string", "nullable": True, "maxLength": 4000},
    "owner_agent": {"type": "string", "nullable": True, "maxLength": 64},
    "owner_queue": {"type": "string", "nullable": True, "maxLength": 64},
    "due": {"description": "epoch seconds, ISO 8601, or +<n>m/h/d from now; default: the type's"},
    "priority": {"type": "string", "enum": list(PRIORITIES)},
    "customer_id": {"type": "string", "nullable": True, "maxLength": 36},
    "call_id": {"type": "string", "nullable": True, "maxLength": 64},
    "callback_number": {"type": "string", "nullable": True, "maxLength": 40,
                        "description": "for a call-back: the number to ring (default: the call's caller)"}}
TASK_BODY = {"type": "object", "required": ["type"], "properties": TASK_PROPS}
WRAPUP_TASK = {"type": "object", "description": "a follow-up task from wrap-up (call back Tuesday...)", "properties": TASK_PROPS}
EDIT_BODY = {"type": "object", "properties": {
    "owner_agent": TASK_PROPS["owner_agent"], "owner_queue": TASK_PROPS["owner_queue"], "due": TASK_PROPS["due"],
    "priority": TASK_PROPS["priority"], "note": {"type": "string", "nullable": True, "maxLength": 2000}}}
CHANGE_BODY = {"type": "object", "properties": {"note": {"type": "string", "nullable": True, "maxLength": 2000}}}


# --------------------------------------------------------------------------- handlers
def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "") in ("1", "true", "yes")


async def task_list(request: web.Request) -> web.Response:
    tasks, user, q = request.app[TASKS], _user(request), request.query
    owners = tasks.visible_owners(user)
    if q.get("owner_agent") or q.get("owner_queue"):
        wanted = tasks.owner_of(q)
        if owners and wanted not in owners:
            raise Forbidden("an agent lists its own tasks and its queues'")
        owners = (wanted,)
    elif _flag(request, "mine"):
        owners = (Owner("agent", user.agent_id or "-"),)
    status = q.get("status", "open")
    statuses = () if status == "any" else tuple(status.split(","))
    if any(s not in ("open", "done", "cancelled") for s in statuses):
        raise Invalid("status", "open, done, cancelled (comma separated) or any")
    try:
        limit = min(int(q.get("limit", "200")), 1000)
    except ValueError:
        raise Invalid("limit", "a whole number") from None
    found = await tasks.list(store_tasks.TaskQuery(
        owners=owners, customer_id=q.get("customer_id") or None, statuses=statuses, overdue=_flag(request, "overdue"),
        escalated=_flag(request, "escalated"), limit=limit))
    return json_reply(request, {"tasks": found, "now": tasks.now()})


async def task_create(request: web.Request) -> web.Response:
    tasks, user = request.app[TASKS], _user(request)
    inp = tasks.task_input(user, await _json_body(request, TASK_BODY))
    return json_reply(request, await tasks.create(inp, user, source="api"), status=201)


async def task_get(request: web.Request) -> web.Response:
    return json_reply(request, await request.app[TASKS].with_history(request.match_info["task_id"], _user(request)))


async def task_change(request: web.Request) -> web.Response:
    tasks, user = request.app[TASKS], _user(request)
    task = await tasks.visible(request.match_info["task_id"], user)
    try:
        change = Change(request.match_info["change"])
    except ValueError:
        raise NotFound(f"no such change {request.match_info['change']!r}: complete, cancel or reopen") from None
    if change not in (Change.COMPLETE, Change.CANCEL, Change.REOPEN):
        raise NotFound(f"no such change {change.value!r}: complete, cancel or reopen")
    body = await _json_body(request, CHANGE_BODY) if request.can_read_body else {}
    return json_reply(request, await tasks.change(task["task_id"], change, user, note=body.get("note")))


async def task_edit(request: web.Request) -> web.Response:
    """Reassign (owner), reschedule (due) or re-prioritise a task."""
    tasks, user = request.app[TASKS], _user(request)
    task = await tasks.visible(request.match_info["task_id"], user)
    body = await _json_body(request, EDIT_BODY)
    owner = None
    if body.get("owner_agent") or body.get("owner_queue"):
        owner = tasks.owner_of(body)
        tasks.check_owner_allowed(user, owner)
    due = tasks.due_time(body["due"]) if body.get("due") not in (None, "") else None
    priority = parse_priority(body["priority"]) if body.get("priority") else None
    if owner is None and due is None and priority is None:
        raise Invalid("body", "give owner_agent, owner_queue, due or priority")
    change = Change.RESCHEDULE if due is not None and owner is None else Change.REASSIGN
    done = await tasks.change(task["task_id"], change, user, owner=owner, due_at=due, priority=priority, note=body.get("note"))
    return json_reply(request, done)


async def task_types(request: web.Request) -> web.Response:
    """The configured task types (the desktop's wrap-up form), and the queues the user serves."""
    tasks, user = request.app[TASKS], _user(request)
    queues = tasks.queue_names() if user.role >= Role.SUPERVISOR else list(tasks.queues_served(user.agent_id))
    return json_reply(request, {"types": [{"type": t.name, "label": t.label, "due_s": t.due_s, "priority": t.priority.label,
                                         "callback": t.callback} for t in tasks.types().values()],
                              "priorities": list(PRIORITIES), "queues": queues})


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v1/task-types", task_types, ANY,
          "Task types from config/tasks.yaml, the priorities, and the queues you may give a task to", tag="tasks"),
    Route("GET", "/api/v1/tasks", task_list, AGENT_OWN,
          "Tasks, soonest due first: an agent's own and its queues' (mine=1: its own only); supervisors any. "
          "overdue=1: open and past due (the wallboard); escalated=1: escalated to a supervisor",
          query=("mine", "owner_agent", "owner_queue", "customer_id", "status", "overdue", "escalated", "limit"), tag="tasks"),
    Route("POST", "/api/v1/tasks", task_create, ANY,
          "Create a task (an agent: for itself or one of its queues)", body=TASK_BODY, tag="tasks"),
    Route("GET", "/api/v1/tasks/{task_id}", task_get, AGENT_OWN, "One task with its history", tag="tasks"),
    Route("PATCH", "/api/v1/tasks/{task_id}", task_edit, AGENT_OWN,
          "Reassign, reschedule or re-prioritise a task (a new due time starts its escalation rules again)",
          body=EDIT_BODY, tag="tasks"),
    Route("POST", "/api/v1/tasks/{task_id}/{change}", task_change, AGENT_OWN,
          "Complete, cancel or reopen a task", body=CHANGE_BODY, tag="tasks"),
)
register_routes(ROUTES)
_ = SUPERVISOR  # reassigning to another agent is a supervisor's (checked in the handler)
