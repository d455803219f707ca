"""The API's one time format: ISO 8601 with the offset of the engine's zone; durations rounded."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from acd.http.times import api_dumps, api_shape, iso_time

LONDON = ZoneInfo("Europe/London")


def test_a_time_carries_the_offset_of_its_zone_in_winter_and_in_summer():
    winter = dt.datetime(2026, 1, 15, 9, 30, tzinfo=dt.UTC).timestamp()
    summer = dt.datetime(2026, 7, 15, 9, 30, tzinfo=dt.UTC).timestamp()
    assert iso_time(winter, LONDON) == "2026-01-15T09:30:00+00:00"
    assert iso_time(summer, LONDON) == "2026-07-15T10:30:00+01:00"
    assert iso_time(summer + 0.25, LONDON) == "2026-07-15T10:30:00.250+01:00"
    assert dt.datetime.fromisoformat(iso_time(summer + 0.25, LONDON)).timestamp() == summer + 0.25


def test_times_are_found_by_name_at_any_depth_and_durations_are_rounded():
    t = dt.datetime(2026, 7, 15, 9, 30, tzinfo=dt.UTC).timestamp()
    body = {"now": t, "rows": [{"interval_start": t, "asa_s": 12.3456, "answered": 3, "queue": "sales"}],
            "timeline": [{"t": t, "event": "answered", "from": "open"}], "closed_at": None, "ok": True, "wait_s": 4}
    shaped = api_shape(body, LONDON)
    assert shaped["now"] == shaped["rows"][0]["interval_start"] == shaped["timeline"][0]["t"] == "2026-07-15T10:30:00+01:00"
    assert shaped["rows"][0]["asa_s"] == 12.3 and shaped["wait_s"] == 4 and shaped["rows"][0]["answered"] == 3
    assert shaped["timeline"][0]["from"] == "open" and shaped["closed_at"] is None and shaped["ok"] is True
    assert body["now"] == t  # a copy: the engine's own data keeps epoch seconds
    assert json.loads(api_dumps(LONDON)(body)) == shaped
