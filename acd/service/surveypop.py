"""The screen-pop's last survey score (an ``AgentDesk`` section): the caller's most recent
post-call survey with a ``csat`` answer (1 to 5), when and with which agent, so the agent knows
how the last call went before saying hello. The score is ``acd.reports.quality.csat_score``, the
reports' own reading of a survey."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from acd.reports.quality import csat_score
from acd.routing.model import CallEntry

if TYPE_CHECKING:
    from acd.store.sql import SqlStore

LOOK_BACK_CALLS = 20  # the customer's newest calls looked at


class LastSurveySection:
    __name__ = "last_survey"

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    async def __call__(self, entry: CallEntry, customer: dict[str, Any] | None) -> dict[str, Any]:
        if customer is None:
            return {"last_survey": None}
        calls = await self.store.search_interactions(customer_id=customer["customer_id"], limit=LOOK_BACK_CALLS)
        for call in calls:  # newest first
            score = csat_score(call) if call.call_id != entry.call_id else None
            if score is not None:
                return {"last_survey": {"score": score, "out_of": 5, "call_id": call.call_id, "at": (call.survey or {}).get("at"),
                                        "agent": (call.survey or {}).get("agent") or call.agent, "queue": call.queue}}
        return {"last_survey": None}
