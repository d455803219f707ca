"""AMI actions on the simulated PBX's channels: Originate, Hangup, Redirect, Getvar/Setvar,
the snapshot lists (Status, CoreShowChannels, BridgeList, BridgeInfo, DeviceStateList),
MixMonitor/MixMonitorMute/StopMixMonitor and UserEvent.

Replies and list items as recorded (connect/exp7_snapshots, exp3_rona_abandon, exp6_mixmonitor):
list items carry ``ActionID`` right after ``Event:``, except ``Status`` items (``Privilege: Call``
second, ``ActionID`` last); lists are newest channel first.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from acd.ami.codec import encode_event
from acd.ami.frames import Action
from acd.logs import get_logger
from acd.sim.channels import Headers, SimChannel
from acd.sim.model import ChannelState

if TYPE_CHECKING:
    from acd.sim.ami_server import AmiSession
    from acd.sim.pbx import SimPbx

log = get_logger(__name__)

_TRUE = ("true", "yes", "1", "on", "y", "t")


def _hms(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


class AmiActions:
    def __init__(self, pbx: SimPbx) -> None:
        self.pbx = pbx

    # ------------------------------------------------------------------ helpers
    def _channel(self, s: AmiSession, a: Action, header: str = "Channel") -> SimChannel | None:
        ref = a.get(header) or ""
        if not ref:
            s.respond(a, "Error", ("Message", "No channel specified"))
            return None
        ch = self.pbx.find_channel(ref) if not ref.endswith("-") else None
        if ch is None or ch.destroyed.is_set():
            s.respond(a, "Error", ("Message", "No such channel"))
            return None
        return ch

    @staticmethod
    def _aid(a: Action) -> Headers:
        return [("ActionID", a.action_id)] if a.action_id is not None else []

    def _list(self, s: AmiSession, a: Action, message: str, items: list[tuple[str, Headers]], complete: str, extra: Headers | None = None) -> None:
        s.respond(a, "Success", ("EventList", "start"), ("Message", message))
        aid = self._aid(a)
        for name, headers in items:
            s.send(encode_event(name, aid + headers))
        s.send(encode_event(complete, aid + [("EventList", "Complete"), ("ListItems", str(len(items)))] + list(extra or [])))

    # ------------------------------------------------------------------ Originate
    async def ami_originate(self, s: AmiSession, a: Action) -> None:
        from acd.sim.pbx import OriginateSpec

        if not a.get("Channel"):
            s.respond(a, "Error", ("Message", "Channel not specified"))
            return
        if "/" not in (a.get("Channel") or ""):
            s.respond(a, "Error", ("Message", "Invalid channel"))
            return
        try:
            spec = OriginateSpec.from_headers(a.get, a.headers.get_all("Variable"))
        except ValueError:
            s.respond(a, "Error", ("Message", "Invalid timeout"))
            return
        is_async = (a.get("Async") or "false").lower() in _TRUE
        aid = self._aid(a)
        where = [("Application", spec.application), ("Data", spec.data)] if spec.application else [("Context", spec.context), ("Exten", spec.exten)]
        sync_result: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def report(response: str, channel: str, reason: int, uniqueid: str) -> None:
            if not is_async:
                if not sync_result.done():
                    sync_result.set_result(response)
                return
            self.pbx.emit("OriginateResponse", aid + [("Response", response), ("Channel", channel)] + where + [
                ("Reason", str(reason)), ("Uniqueid", uniqueid),
                ("CallerIDNum", spec.caller_num or "<unknown>"), ("CallerIDName", spec.caller_name or "<unknown>"),
            ])

        if is_async:
            s.respond(a, "Success", ("Message", "Originate successfully queued"))
        self.pbx.spawn(self.pbx.originate(spec, report), f"sim-originate-{spec.channel_id or spec.dial}")
        if not is_async:
            result = await sync_result
            if result == "Success":
                s.respond(a, "Success", ("Message", "Originate successfully queued"))
            else:
                s.respond(a, "Error", ("Message", "Originate failed"))

    # ------------------------------------------------------------------ Hangup, Redirect
    async def ami_hangup(self, s: AmiSession, a: Action) -> None:
        ref = a.get("Channel") or ""
        cause = int(a.get("Cause") or 0) if (a.get("Cause") or "0").isdigit() else 0
        if len(ref) > 2 and ref.startswith("/") and ref.endswith("/"):
            pattern = re.compile(ref[1:-1])
            hit = [c for c in self.pbx.channels.values() if pattern.search(c.name)]
            for match in hit:
                self._hangup(match, cause)
            s.respond(a, "Success", ("Message", f"{len(hit)} channels hung up."))
            return
        ch = self._channel(s, a)
        if ch is None:
            return
        s.respond(a, "Success", ("Message", "Channel Hungup"))
        self._hangup(ch, cause)

    def _hangup(self, ch: SimChannel, cause: int) -> None:
        up = ch.state == ChannelState.UP
        self.pbx.request_hangup(ch, cause=cause, by="engine", soft_cause=16 if up else None)

    async def ami_redirect(self, s: AmiSession, a: Action) -> None:
        ref = a.get("Channel") or ""
        ch = self.pbx.find_channel(ref)
        if ch is None or ch.gone.is_set():
            s.respond(a, "Error", ("Message", f"Channel does not exist: {ref}"))
            return
        context, exten = a.get("Context") or ch.context, a.get("Exten") or ch.exten
        try:
            priority = int(a.get("Priority") or 1)
        except ValueError:
            s.respond(a, "Error", ("Message", "Invalid priority"))
            return
        s.respond(a, "Success", ("Message", "Redirect successful"))
        self.pbx.redirect(ch, context, exten, priority)

    # ------------------------------------------------------------------ variables
    async def ami_getvar(self, s: AmiSession, a: Action) -> None:
        name = a.get("Variable") or ""
        if not name:
            s.respond(a, "Error", ("Message", "No variable specified"))
            return
        if a.get("Channel"):
            ch = self._channel(s, a)
            if ch is None:
                return
            value = self.pbx.channel_variable(ch, name)
        else:
            value = self.pbx.global_vars.get(name)
        s.respond(a, "Success", ("Variable", name), ("Value", value or ""))

    async def ami_setvar(self, s: AmiSession, a: Action) -> None:
        name = a.get("Variable") or ""
        if not name:
            s.respond(a, "Error", ("Message", "No variable specified"))
            return
        value = a.get("Value") or ""
        if a.get("Channel"):
            ch = self._channel(s, a)
            if ch is None:
                return
            self.pbx.set_channel_variable(ch, name, value)
        else:
            self.pbx.global_vars[name] = value
        s.respond(a, "Success", ("Message", "Variable Set"))

    # ------------------------------------------------------------------ snapshots
    def _newest_first(self) -> list[SimChannel]:
        return [c for c in reversed(list(self.pbx.channels.values())) if not c.destroyed.is_set()]

    async def ami_status(self, s: AmiSession, a: Action) -> None:
        if a.get("Channel"):
            ch = self._channel(s, a)
            if ch is None:
                return
            chans = [ch]
        else:
            chans = self._newest_first()
        wanted = [v.strip() for v in (a.get("Variables") or "").split(",") if v.strip()]
        all_vars = (a.get("AllVariables") or "").lower() in _TRUE
        s.respond(a, "Success", ("EventList", "start"), ("Message", "Channel status will follow"))
        now = self.pbx.time.now()
        for ch in chans:
            moh = bool(ch.moh_class or ch.background_moh)
            bridged_caller = ch.bridge is not None and ch.kind == "caller"
            headers: Headers = [("Privilege", "Call")] + ch.headers() + [
                ("Type", ch.name.split("/", 1)[0]), ("DNID", ch.dnid), ("EffectiveConnectedLineNum", ch.connected_num),
                ("EffectiveConnectedLineName", ch.connected_name), ("TimeToHangup", "0"),
                ("BridgeID", ch.bridge.uniqueid if ch.bridge else ""),
                ("Application", "(null)" if bridged_caller or not ch.application else ch.application),
                ("Data", "(null)" if bridged_caller or not ch.application else ch.app_data),
                ("Nativeformats", "(ulaw)"), ("Readformat", "ulaw"), ("Readtrans", ""),
                ("Writeformat", "slin" if moh else "ulaw"), ("Writetrans", "(slin@8000)->(ulaw@8000)" if moh else ""),
                ("Callgroup", "0"), ("Pickupgroup", "0"), ("Seconds", str(int(now - ch.created))),
            ]
            if all_vars:
                headers += [("Variable", f"{k}={v}") for k, v in reversed(ch.variables.items()) if not k.startswith("__")]
            else:
                headers += [("Variable", f"{k}={self.pbx.channel_variable(ch, k) or ''}") for k in wanted]
            s.send(encode_event("Status", headers + self._aid(a)))
        s.send(encode_event("StatusComplete", self._aid(a) + [("EventList", "Complete"), ("ListItems", str(len(chans))), ("Items", str(len(chans)))]))

    async def ami_coreshowchannels(self, s: AmiSession, a: Action) -> None:
        now = self.pbx.time.now()
        items = []
        for ch in self._newest_first():
            bridged_caller = ch.bridge is not None and ch.kind == "caller"
            items.append(("CoreShowChannel", ch.headers() + [
                ("Application", "" if bridged_caller else ch.application),
                ("ApplicationData", "" if bridged_caller else ch.app_data),
                ("Duration", _hms(now - ch.created)),
                ("BridgeId", ch.bridge.uniqueid if ch.bridge else ""),
            ]))
        self._list(s, a, "Channels will follow", items, "CoreShowChannelsComplete")

    async def ami_bridgelist(self, s: AmiSession, a: Action) -> None:
        kind = a.get("BridgeType")
        items = [("BridgeListItem", b.headers()) for b in self.pbx.bridges.values() if not kind or kind == "basic"]
        self._list(s, a, "Bridge listing will follow", items, "BridgeListComplete")

    async def ami_bridgeinfo(self, s: AmiSession, a: Action) -> None:
        bridge = self.pbx.bridges.get(a.get("BridgeUniqueid") or "")
        if bridge is None:
            s.respond(a, "Error", ("Message", f"Bridge {a.get('BridgeUniqueid') or ''} not found"))
            return
        items = [("BridgeInfoChannel", ch.headers()) for ch in bridge.channels]
        self._list(s, a, "Bridge channel listing will follow", items, "BridgeInfoComplete", bridge.headers())

    async def ami_devicestatelist(self, s: AmiSession, a: Action) -> None:
        items = [("DeviceStateChange", [("Device", d), ("State", st)]) for d, st in self.pbx.device_states().items()]
        self._list(s, a, "Device State Changes will follow", items, "DeviceStateListComplete")

    # ------------------------------------------------------------------ recording
    async def ami_mixmonitor(self, s: AmiSession, a: Action) -> None:
        ch = self._channel(s, a)
        if ch is None:
            return
        options = a.get("Options") or ""
        rec = self.pbx.start_recording(ch, a.get("File") or f"{ch.uniqueid}.wav", options)
        m = re.search(r"i\(([^)]*)\)", options)
        if m:
            if m.group(1):
                ch.variables[m.group(1)] = rec.mix_monitor_id
            s.respond(a, "Success", ("MixMonitorID", rec.mix_monitor_id))
        else:
            s.respond(a, "Success")

    async def ami_mixmonitormute(self, s: AmiSession, a: Action) -> None:
        ch = self.pbx.find_channel(a.get("Channel") or "")
        if ch is None or ch.recording is None:
            s.respond(a, "Error", ("Message", "Cannot set mute flag"))
            return
        direction = (a.get("Direction") or "both").lower()
        if direction not in ("read", "write", "both"):
            s.respond(a, "Error", ("Message", "Invalid direction specified. Must be read, write or both"))
            return
        on = (a.get("State") or "0").lower() in _TRUE
        s.respond(a, "Success")
        self.pbx.mute_recording(ch, direction, on)

    async def ami_stopmixmonitor(self, s: AmiSession, a: Action) -> None:
        ch = self.pbx.find_channel(a.get("Channel") or "")
        mmid = a.get("MixMonitorID")
        if ch is None or ch.recording is None or (mmid and mmid != ch.recording.mix_monitor_id):
            s.respond(a, "Error", ("Message", "Could not stop monitoring channel"))
            return
        s.respond(a, "Success")
        self.pbx.stop_recording(ch)

    # ------------------------------------------------------------------ UserEvent
    async def ami_userevent(self, s: AmiSession, a: Action) -> None:
        name = a.get("UserEvent") or ""
        if not name:
            s.respond(a, "Error", ("Message", "Missing UserEvent"))
            return
        s.respond(a, "Success")
        fields = [(k, v) for k, v in a.headers.items() if k.lower() not in ("action", "actionid", "userevent")]
        self.pbx.emit("UserEvent", [("UserEvent", name)] + fields, privilege="user,all")
