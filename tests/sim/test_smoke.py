import asyncio

from acd.agi import AgiChannel, AgiHangup, FastAgiServer
from acd.ami import AmiClient
from acd.ami.actions import OriginateRequest, originate
from acd.sim import AgentBehaviour, CallerScript, SimPbx


async def test_ivr_call_and_agent_bridge():
    got = {}
    claimed = asyncio.Event()

    async def ivr(ch: AgiChannel):
        await ch.answer()
        r = await ch.get_data("enter-account", 2000, 4)
        got["digits"] = r.digits
        got["uid"] = ch.env.uniqueid
        try:
            while True:
                await ch.exec("MusicOnHold", "default", "20")
        except AgiHangup:
            got["bridged_away"] = True

    async def claim(ch: AgiChannel):
        await ch.set_variable("ACD_CLAIM", "ok")
        claimed.set()

    server = FastAgiServer({"ivr": ivr, "claim": claim}, port=0)
    await server.start()
    pbx = SimPbx(agi_port=server.port, agents={"agent1": AgentBehaviour(answer_after_s=0.2, talk_s=0.3)}, time_scale=0.2)
    await pbx.start()
    ami = AmiClient("127.0.0.1", pbx.ami_port, "acd", "acdsecret")
    await ami.start()
    events = []
    ami.subscribe("*", lambda e: events.append(e))
    call = await pbx.place_call(CallerScript(keys="4711"))
    for _ in range(100):
        if "uid" in got:
            break
        await asyncio.sleep(0.05)
    assert got["digits"] == "4711"
    await originate(ami, OriginateRequest("PJSIP/agent1", "acd-connect", "s", 1, channel_id="offer-1", timeout_ms=5000, variables={"ACD_CALLER": got["uid"]}))
    outcome = await call.finished(10)
    assert outcome.agent == "PJSIP/agent1"
    assert got.get("bridged_away")
    await asyncio.sleep(0.1)
    names = [e.name for e in events]
    assert "BridgeEnter" in names and "OriginateResponse" in names
    enters = [e for e in events if e.name == "BridgeEnter"]
    assert enters[0]["Uniqueid"] == got["uid"]  # the caller enters first
    await ami.stop()
    await pbx.stop()
    await server.stop()
