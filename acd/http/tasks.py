"""The task routes (``/api/v1/tasks``): create, list (mine, my queues', a customer's, the
overdue or escalated ones), read with history, complete, cancel, reopen, reassign, reschedule.

Role rules as the rest of the API: an agent sees and works the tasks it owns and those of the
queues it serves (others answer 404: not confirmed to exist), creates them for itself or one of
its queues; a supervisor sees and assigns any. Wrap-up's task (``POST .../wrapup`` with a
``task``) comes through ``create_from_wrapup``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from acd.http.api import AGENT_OWN, ANY, SUPERVISOR, Route, _customers, _engine, _json_body, _user, register_routes
from acd.http.errors import Forbidden, Invalid, NotFound
from acd.http.times import json_reply
from acd.http.users import Role, User
from acd.logs import get_logger
from acd.store import tasks as store_tasks
from acd.tasks.model import PRIORITIES, Change, Owner, TaskInput, parse_owner, parse_priority, parse_time

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


def queues_served(engine, agent_id: str | None) -> tuple[str, ...]:
    """The queues whose required skills the agent has."""
    if not agent_id or agent_id not in engine.core.agents:
        return ()
    skills = engine.core.agent(agent_id).config.skills
    return tuple(name for name, q in engine.core.queues.items()
                 if all(skills.get(s, 0) >= level for s, level in q.skills.items()))


def visible_owners(engine, user: User) -> tuple[Owner, ...]:
    """An agent's own tasks and its queues'; empty (any) for a supervisor."""
    if user.role >= Role.SUPERVISOR:
        return ()
    return (Owner("agent", user.agent_id or "-"), *(Owner("queue", q) for q in queues_served(engine, user.agent_id)))


def _may_see(engine, user: User, task: dict[str, Any]) -> bool:
    owners = visible_owners(engine, user)
    return not owners or Owner(task["owner"]["kind"], task["owner"]["id"]) in owners


def _check_owner_allowed(engine, user: User, owner: Owner) -> None:
    if user.role < Role.SUPERVISOR and owner not in visible_owners(engine, user):
        raise Forbidden("an agent gives a task to itself or to one of its queues")


def task_input(engine, user: User, body: dict[str, Any], **defaults: Any) -> TaskInput:
    default_owner = Owner("agent", user.agent_id) if user.agent_id else None
    inp = TaskInput.parse({**defaults, **{k: v for k, v in body.items() if v not in (None, "")}}, now=engine.clock.now(),
                          types=engine.task_types, agents=frozenset(engine.core.agents), queues=frozenset(engine.core.queues),
                          default_owner=default_owner)
    _check_owner_allowed(engine, user, inp.owner)
    return inp


def _published(engine, kind: str, task: dict[str, Any], **extra: Any) -> None:
    """Push a task change on the event stream (an agent's stream shows its own tasks)."""
    owner = task["owner"]
    engine.emit(kind, {"task_id": task["task_id"], "type": task["type"], "title": task["title"], "owner": owner,
                       "due_at": task["due_at"], "priority": task["priority"], "status": task["status"],
                       "customer_id": task["customer_id"], "agent_id": owner["id"] if owner["kind"] == "agent" else None, **extra})


def wrapup_task_input(request: web.Request, agent_id: str, body: dict[str, Any]) -> TaskInput:
    """The wrap-up's task, checked: on the call in wrap-up and its customer, the caller's number
    to ring back, owned by the agent unless it says otherwise."""
    engine, user = _engine(request), _user(request)
    entry = engine.acd.wrapup_entry(agent_id)
    defaults = {"call_id": engine.acd.wrapup_call(agent_id), "owner_agent": None if body.get("owner_queue") else agent_id,
                "customer_id": entry.customer_id if entry else None, "callback_number": entry.caller_number if entry else None}
    return task_input(engine, user, body, **{k: v for k, v in defaults.items() if v})


async def create_task_from(request: web.Request, inp: TaskInput, *, source: str) -> dict[str, Any]:
    engine, user = _engine(request), _user(request)
    task = await store_tasks.create_task(_customers(engine), inp, source=source, by=user.id)
    _published(engine, "task_created", task)
    log.event("task.created", task_id=task["task_id"], type=task["type"], owner=str(inp.owner), by=user.id, source=source)
    return task


# --------------------------------------------------------------------------- handlers
def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "") in ("1", "true", "yes")


async def task_list(request: web.Request) -> web.Response:
    engine, user, q = _engine(request), _user(request), request.query
    owners = visible_owners(engine, user)
    if q.get("owner_agent") or q.get("owner_queue"):
        wanted = parse_owner(q, agents=frozenset(engine.core.agents), queues=frozenset(engine.core.queues), default=None)
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
    found = await store_tasks.list_tasks(_customers(engine), store_tasks.TaskQuery(
        owners=owners, customer_id=q.get("customer_id") or None, statuses=statuses, overdue=_flag(request, "overdue"),
        escalated=_flag(request, "escalated"), limit=limit))
    return json_reply(request, {"tasks": found, "now": engine.clock.now()})


async def task_create(request: web.Request) -> web.Response:
    engine, user = _engine(request), _user(request)
    inp = task_input(engine, user, await _json_body(request, TASK_BODY))
    return json_reply(request, await create_task_from(request, inp, source="api"), status=201)


async def _visible_task(request: web.Request) -> dict[str, Any]:
    engine, user = _engine(request), _user(request)
    task = await store_tasks.get_task(_customers(engine), request.match_info["task_id"])
    if not _may_see(engine, user, task):
        raise NotFound(f"no task {request.match_info['task_id']}")
    return task


async def task_get(request: web.Request) -> web.Response:
    task = await _visible_task(request)
    task["history"] = await store_tasks.history(_customers(_engine(request)), task["task_id"])
    return json_reply(request, task)


async def task_change(request: web.Request) -> web.Response:
    engine, user = _engine(request), _user(request)
    task = await _visible_task(request)
    try:
        change = Change(request.match_info["change"])
    except ValueError:
        raise NotFound(f"no such change {request.match_info['change']!r}: complete, cancel or reopen") from None
    if change not in (Change.COMPLETE, Change.CANCEL, Change.REOPEN):
        raise NotFound(f"no such change {change.value!r}: complete, cancel or reopen")
    body = await _json_body(request, CHANGE_BODY) if request.can_read_body else {}
    done = await store_tasks.change_task(_customers(engine), task["task_id"], change, by=user.id, note=body.get("note"))
    _published(engine, f"task_{change.value}", done)
    return json_reply(request, done)


async def task_edit(request: web.Request) -> web.Response:
    """Reassign (owner), reschedule (due) or re-prioritise a task."""
    engine, user = _engine(request), _user(request)
    task = await _visible_task(request)
    body = await _json_body(request, EDIT_BODY)
    owner = None
    if body.get("owner_agent") or body.get("owner_queue"):
        owner = parse_owner(body, agents=frozenset(engine.core.agents), queues=frozenset(engine.core.queues), default=None)
        _check_owner_allowed(engine, user, owner)
    due = parse_time(body["due"], "due", now=engine.clock.now()) if body.get("due") not in (None, "") else None
    priority = parse_priority(body["priority"]) if body.get("priority") else None
    if owner is None and due is None and priority is None:
        raise Invalid("body", "give owner_agent, owner_queue, due or priority")
    change = Change.RESCHEDULE if due is not None and owner is None else Change.REASSIGN
    done = await store_tasks.change_task(_customers(engine), task["task_id"], change, by=user.id, owner=owner, due_at=due,
                                         priority=priority, note=body.get("note"))
    _published(engine, "task_changed", done)
    return json_reply(request, done)


async def task_types(request: web.Request) -> web.Response:
    """The configured task types (the desktop's wrap-up form), and the queues the user serves."""
    engine, user = _engine(request), _user(request)
    queues = list(engine.core.queues) if user.role >= Role.SUPERVISOR else list(queues_served(engine, user.agent_id))
    return json_reply(request, {"types": [{"type": t.name, "label": t.label, "due_s": t.due_s, "priority": t.priority.label,
                                         "callback": t.callback} for t in engine.task_types.values()],
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
