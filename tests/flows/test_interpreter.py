"""Every step type through the interpreter, with a scripted caller and in-memory ports."""

from __future__ import annotations

import datetime as dt

import pytest

from acd.flows.ports_extra import QueueOutcome
from acd.ports import VerificationLevel

from .conftest import Harness, compile_yaml

END = """
  bye:
    hangup: true
"""


def flow(steps: str, head: str = "") -> str:
    return f"flow: t\n{head}\nsteps:\n{steps}{END if 'bye' in steps else ''}"


# ---------------------------------------------------------------- prompts and saying data
async def test_play_and_say_values(h: Harness):
    result = await h.run(flow("""
  hello:
    play:
      - "welcome {{ n }} {{ acct | digits }} {{ when | date }} {{ name_sound | sound }}"
      - "balance {{ amount | currency }} {{ neg | currency }} {{ small | currency }} {{ frac }}"
    next: bye
""", head="currency: {major: pounds, minor: pence}\nvariables: {n: 42, acct: '0042', when: '2026-11-20', name_sound: 'names/ada', amount: 1234.5, neg: -2, small: 0.07, frac: 2.5}"))
    assert result.outcome == "hangup"
    ev = [str(e) for e in h.channel.events]
    assert ev == [
        "play welcome", "say_number 42", "say_digits 0042", "say_date 2026-11-20", "play names/ada",
        "play balance", "say_number 1234", "play pounds", "play and", "say_number 50", "play pence",
        "play minus", "say_number 2", "play pounds",
        "say_number 7", "play pence",
        "say_number 2", "play point", "say_digits 5",
        "hangup (flow)",
    ]


async def test_interruptible_play_keeps_the_key_for_the_next_menu(h: Harness):
    await h.run(flow("""
  intro:
    play: {prompt: [long-intro, more], interruptible: true}
    next: m
  m:
    menu: {prompt: pick}
    on: {"2": bye}
    next: bye
"""), "2")
    assert h.channel.played() == ["long-intro"]  # cut short; the menu prompt is skipped
    assert h.steps() == [("intro", "done"), ("m", "2"), ("bye", "hangup")]


async def test_non_interruptible_play_ignores_keys(h: Harness):
    await h.run(flow("""
  intro:
    play: [a, b]
    next: m
  m:
    menu: {prompt: pick}
    on: {"2": bye}
    next: bye
"""), "2")
    assert h.channel.played() == ["a", "b", "pick"]


async def test_saying_a_secret_or_bad_data_fails_safely(h: Harness):
    result = await h.run(flow("""
  ask:
    collect: {prompt: pin, into: pin, secret: true, min_digits: 4, max_digits: 4}
    on: {ok: say}
    next: bye
  say:
    play: "you-said {{ pin }}"
    next: bye
"""), "1234")
    assert h.step_data("say")["outcome"] == "error"
    assert "secret cannot be spoken" in h.step_data("say")["error"]
    assert result.failed and result.outcome == "fallback:answered"
    assert h.queue.requests[-1][1].queue == "fallback"


# ---------------------------------------------------------------- menus
MENU = flow("""
  m:
    menu: {prompt: main-menu, retries: 2, invalid_prompt: wrong, no_input_prompt: nothing-heard, timeout_s: 4}
    on: {"1": one, "#": bye}
    on_invalid: agent
    on_timeout: agent
  one:
    hangup: true
  agent:
    queue: general
    next: bye
""")


async def test_menu_valid_key(h: Harness):
    await h.run(MENU, "1")
    assert h.steps()[0] == ("m", "1")


async def test_menu_invalid_then_valid(h: Harness):
    await h.run(MENU, "7,#")
    assert h.steps()[0] == ("m", "#")
    assert h.channel.played() == ["main-menu", "wrong"] and h.step_data("m")["inputs"]["keys"] == ["7", "#"]


async def test_menu_retries_then_final_fallback(h: Harness):
    await h.run(MENU, ",9,")  # silence; a wrong key (during the no-input prompt); silence
    assert h.steps()[0] == ("m", "timeout")
    assert h.step_data("m")["inputs"]["keys"] == [None, "9", None]
    assert h.channel.played() == ["main-menu", "nothing-heard", "wrong", "main-menu"]
    assert [str(e) for e in h.channel.events if e.kind == "wait"] == ["wait 4s, no key", "wait 4s, no key"]
    assert h.steps()[1] == ("agent", "answered")


async def test_menu_invalid_fallback(h: Harness):
    await h.run(MENU, "5,6,7")
    assert h.steps()[0] == ("m", "invalid")


# ---------------------------------------------------------------- digit collection
def collect_flow(spec: str) -> str:
    return flow(f"""
  c:
    collect: {{prompt: enter, into: got, {spec}}}
    on: {{ok: done}}
    on_invalid: bad
    on_timeout: silent
  done:
    play: "ok {{{{ got | digits }}}}"
    next: bye
  bad:
    play: bad
    next: bye
  silent:
    play: silent
    next: bye
""")


@pytest.mark.parametrize("spec, keys, outcome, digits", [
    ("max_digits: 4", "12345", "ok", "1234"),  # stops at max
    ("max_digits: 8", "123#", "ok", "123"),  # terminator
    ("max_digits: 8, terminator: '*'", "12*", "ok", "12"),
    ("max_digits: 8, min_digits: 3", "12#,,", "timeout", None),  # too short, then silent twice: the last failure counts
    ("max_digits: 8, min_digits: 3", ",,12#", "invalid", None),
    ("max_digits: 8", "123", "ok", "123"),  # inter-digit timeout ends it
    ("max_digits: 16, validate: {luhn: true}", "4111111111111111#", "ok", "4111111111111111"),
    ("max_digits: 16, validate: {luhn: true}, retries: 0", "4111111111111112#", "invalid", None),
    ("max_digits: 8, validate: {date: DDMMYYYY}, retries: 0", "31022026", "invalid", None),
    ("max_digits: 8, validate: {date: DDMMYYYY}", "28022026", "ok", "28022026"),
    ("max_digits: 2, validate: {range: {min: 1, max: 31}}, retries: 0", "32", "invalid", None),
    ("max_digits: 2, validate: {range: {min: 1, max: 31}}", "07", "ok", "07"),
    ("max_digits: 6, validate: {regex: '9[0-9]+'}, retries: 0", "123#", "invalid", None),
    ("max_digits: 6, retries: 0", "#", "timeout", None),  # only the terminator: no input
    ("max_digits: 6, retries: 0", [""], "timeout", None),
    ("max_digits: 6, retries: 1", ",55#", "ok", "55"),  # silence, then a retry
])
async def test_collect(h: Harness, spec, keys, outcome, digits):
    await h.run(collect_flow(spec), keys)
    assert h.steps()[0] == ("c", outcome)
    if digits:
        assert [str(e) for e in h.channel.events if e.kind == "say_digits"] == [f"say_digits {digits}"]


async def test_collect_timeouts_are_passed_to_the_channel(h: Harness):
    await h.run(collect_flow("max_digits: 8, first_digit_timeout_s: 7, inter_digit_timeout_s: 2, retries: 0"), "12")
    waits = [str(e) for e in h.channel.events if e.kind == "wait"]
    assert waits == ["wait 2s, no key"]  # after "2" the inter-digit timeout ends it
    h2 = Harness()
    await h2.run(collect_flow("max_digits: 8, first_digit_timeout_s: 7, retries: 0"), [""])
    assert [str(e) for e in h2.channel.events if e.kind == "wait"] == ["wait 7s, no key"]


async def test_collect_invalid_prompt_replayed(h: Harness):
    await h.run(flow("""
  c:
    collect: {prompt: enter, into: got, min_digits: 3, invalid_prompt: too-short, retries: 1}
    on: {ok: bye}
    next: bye
"""), "1#,123#")
    assert h.channel.played() == ["enter", "too-short"]  # the caller typed over the retry prompt
    assert h.steps()[0] == ("c", "ok")


# ---------------------------------------------------------------- variables and branching
async def test_set_and_branch(h: Harness):
    await h.run(flow("""
  s:
    set: {a: 5, b: "a * 2", label: "'gold'", vip: "customer.vip"}
    next: b
  b:
    branch:
      - if: "b > 100"
        goto: big
      - if: "label == 'gold' and vip == null"
        goto: gold
    next: big
  big:
    play: big
    next: bye
  gold:
    play: gold
    next: bye
"""))
    assert h.steps()[:2] == [("s", "done"), ("b", "case2")]
    assert h.channel.played() == ["gold"]
    assert h.step_data("s")["inputs"] == {"set": {"a": 5, "b": 10, "label": "gold", "vip": None}}


async def test_expression_error_at_runtime_goes_to_on_error(h: Harness):
    await h.run(flow("""
  s:
    set: {x: "'abc'"}
    next: b
  b:
    branch:
      - if: "int(x) > 1"
        goto: bye
    next: bye
    on_error: oops
  oops:
    play: oops
    next: bye
"""))
    assert h.steps()[1] == ("b", "error") and "not a whole number" in h.step_data("b")["error"]
    assert h.channel.played() == ["oops"]


# ---------------------------------------------------------------- schedules
SCHED = flow("""
  hours:
    schedule: office
    on: {open: opened, closed: closed, holiday: holiday}
  opened:
    play: open
    next: bye
  closed:
    play: closed
    next: bye
  holiday:
    play: holiday
    next: bye
""", head="""timezone: Europe/London
schedules:
  office:
    hours: {mon-fri: "08:00-18:00"}
    holidays: ["12-25"]""")


@pytest.mark.parametrize("when, expected", [
    (dt.datetime(2026, 11, 24, 10, 0), "open"),
    (dt.datetime(2026, 11, 24, 19, 0), "closed"),
    (dt.datetime(2026, 11, 28, 10, 0), "closed"),  # Saturday
    (dt.datetime(2026, 12, 25, 10, 0), "holiday"),
    (dt.datetime(2026, 7, 1, 7, 30), "open"),  # 08:30 BST
])
async def test_schedule(when, expected):
    h = Harness()
    h.clock._now = when.replace(tzinfo=dt.UTC).timestamp()
    await h.run(SCHED)
    assert h.steps()[0] == ("hours", expected)


# ---------------------------------------------------------------- identification and verification
LOOKUP = flow("""
  who:
    lookup_caller: true
    on: {found: hi, not_found: unknown, multiple: several, withheld: hidden}
  hi:
    play: "hello"
    next: bye
  unknown:
    play: unknown
    next: bye
  several:
    play: several
    next: bye
  hidden:
    play: hidden
    next: bye
""")


async def test_lookup_caller_outcomes(h: Harness):
    h.add_customer("c1", phones=["+441234567890"])
    h.add_customer("c2", phones=["+449999"], account="2")
    h.add_customer("c3", phones=["+449999"], account="3")
    assert (await h.run(LOOKUP)).customer_id == "c1"
    assert h.steps()[0] == ("who", "found")
    for caller, outcome in (("+440000", "not_found"), ("+449999", "multiple"), (None, "withheld"), ("anonymous", "withheld")):
        h2 = Harness(directory=h.directory)
        await h2.run(LOOKUP, caller=caller)
        assert h2.steps()[0] == ("who", outcome), caller


VERIFY = flow("""
  who:
    lookup_caller: true
    on: {found: pin, not_found: account}
  account:
    collect_account: {prompt: account-please, min_digits: 8, max_digits: 8, not_found_prompt: no-such-account, retries: 1}
    on: {ok: pin, failed: agent, locked: agent}
  pin:
    verify_pin: {prompt: pin-please, attempts: 3, failed_prompt: wrong-pin}
    on: {ok: menu, failed: agent, locked: agent, no_secret: dob}
  dob:
    verify_date: {prompt: dob-please, attempts: 2, failed_prompt: wrong-date}
    on: {ok: menu, failed: agent, locked: agent}
  menu:
    play: "hello {{ customer.name | sound }}"
    next: agent
  agent:
    queue: {name: general, skills: {general: 1}}
    next: bye
""", head="verification: {identified: [caller_id, account], verified: [[caller_id, pin], [account, pin], [account, dob]]}")


async def test_verify_by_caller_id_and_pin(h: Harness):
    h.add_customer("c1", name="ada", pin="2345")
    result = await h.run(VERIFY, "2345#")
    assert ("pin", "ok") in h.steps() and result.verification == "verified"
    req = h.queue.requests[0][1]
    assert req.verification is VerificationLevel.VERIFIED and req.customer_id == "c1"


async def test_wrong_pins_then_lock(h: Harness):
    h.add_customer("c1", pin="2345")
    result = await h.run(VERIFY, "1111#,2222#,3333#")
    assert ("pin", "locked") in h.steps()  # the third failure locks (max_failures=3)
    assert h.channel.played().count("wrong-pin") == 2
    req = h.queue.requests[0][1]
    assert req.locked and req.verification is VerificationLevel.IDENTIFIED and result.verification == "identified"
    # a later call is locked at once, without asking
    h2 = Harness(directory=h.directory, verification=h.verification)
    await h2.run(VERIFY, "2345#")
    assert ("pin", "locked") in h2.steps() and "pin-please" not in h2.channel.played()


async def test_wrong_pin_then_right_one(h: Harness):
    h.add_customer("c1", pin="2345")
    await h.run(VERIFY, "1111#,2345#")
    assert ("pin", "ok") in h.steps()
    assert h.step_data("pin")["inputs"] == {"attempts": ["failed", "ok"]}


async def test_account_number_then_pin(h: Harness):
    h.add_customer("c1", phones=[], account="12345674", pin="2345")
    result = await h.run(VERIFY, "11111111,12345674,2345#", caller="+440000")
    assert h.steps()[:3] == [("who", "not_found"), ("account", "ok"), ("pin", "ok")]
    assert "no-such-account" in h.channel.played() and result.verification == "verified"


async def test_no_pin_on_file_falls_back_to_date_of_birth(h: Harness):
    h.add_customer("c1", pin=None, dob="18151210")
    result = await h.run(VERIFY, "1234#,10121815")  # asked for a PIN first: the service says there is none
    assert ("pin", "no_secret") in h.steps() and ("dob", "ok") in h.steps()
    assert result.verification == "identified"  # policy: caller_id + dob is not in 'verified'
    h2 = Harness()
    h2.add_customer("c1", pin=None, dob="18151210")
    await h2.run(VERIFY, "1234#,31021815,01011900")  # an impossible date does not reach the service, then a wrong one
    assert ("dob", "failed") in h2.steps()
    assert h2.step_data("dob")["inputs"] == {"attempts": ["invalid", "failed"]}
    assert h2.verification.audit == [("c1", "pin", "no_secret"), ("c1", "dob", "failed")]  # never digits


async def test_verify_without_customer_is_not_identified(h: Harness):
    await h.run(flow("""
  pin:
    verify_pin: {prompt: pin-please}
    next: bye
"""))
    assert h.steps()[0] == ("pin", "not_identified")


async def test_identify_step(h: Harness):
    h.add_customer("c1", account="555")
    await h.run(flow("""
  s:
    set: {acct: "'555'"}
    next: i
  i:
    identify: {account: "{{ acct }}"}
    on: {ok: bye, failed: bye, locked: bye}
"""))
    assert h.steps()[1] == ("i", "ok")


# ---------------------------------------------------------------- queue, transfer, voicemail, callback
async def test_queue_request_built_from_data(h: Harness):
    h.add_customer("c1", vip=True, language="fr")
    h.queue = __import__("acd.flows.memory", fromlist=["ScriptedQueue"]).ScriptedQueue(["overflow", "answered"])
    result = await h.run(flow("""
  who:
    lookup_caller: true
    next: lang
  lang:
    language: "{{ customer.language }}"
    next: q
  q:
    queue:
      name: "{{ 'sales' if false else 'support' }}"
      skills: {support: 3, "{{ product }}": {min: 2, required: false}, french: {when: "call.language == 'fr'"}, german: {when: "call.language == 'de'"}}
      priority: "if(customer.vip, 7, 0)"
      attributes: {product: "{{ product }}", n: "{{ 1 + 1 }}"}
      prompt: please-hold
    on: {overflow: q2}
  q2:
    queue: overflow_queue
    next: bye
""".replace("\"{{ 'sales' if false else 'support' }}\"", "support"), head="variables: {product: mortgages}"))
    assert result.outcome == "answered"
    call, req = h.queue.requests[0]
    assert req.queue == "support" and req.priority == 7 and req.vip and req.language == "fr"
    assert [(s.skill, s.min_proficiency, s.required) for s in req.skills] == [
        ("support", 3, True), ("mortgages", 2, False), ("french", 1, True)]
    assert req.verification is VerificationLevel.IDENTIFIED and req.customer_id == "c1"
    assert req.attributes["product"] == "mortgages" and req.attributes["n"] == 2 and req.attributes["flow"] == "t"
    assert h.channel.variables["CHANNEL(language)"] == "fr"
    assert h.queue.requests[1][1].queue == "overflow_queue"
    assert h.steps()[-1] == ("q2", "answered")


@pytest.mark.parametrize("outcome", [o.value for o in QueueOutcome])
async def test_queue_outcomes(outcome):
    from acd.flows.memory import ScriptedQueue

    h = Harness(queue=ScriptedQueue([outcome]))
    result = await h.run(flow("""
  q:
    queue: general
    on: {overflow: busy, callback: cb, timeout: late}
  busy:
    hangup: {prompt: busy}
  cb:
    hangup: {prompt: cb}
  late:
    hangup: {prompt: late}
"""))
    if outcome in ("answered", "abandoned"):
        assert result.outcome == outcome and h.steps() == [("q", outcome)]
    else:
        assert h.steps()[1][0] == {"overflow": "busy", "callback": "cb", "timeout": "late"}[outcome]


async def test_transfer_to_number_and_to_dialplan(h: Harness):
    result = await h.run(flow("""
  t:
    transfer: {number: "+44 20 7946 0000", variables: {ACD_REASON: "{{ 'x' + 'y' }}"}}
"""))
    assert result.outcome == "transferred"
    assert [str(e) for e in h.channel.events if e.kind in ("exec", "set")] == [
        "set ACD_REASON=xy", "set ACD_TRANSFER=acd-transfer,+442079460000,1", "exec Goto(acd-transfer,+442079460000,1)"]
    h2 = Harness()
    await h2.run(flow("""
  t:
    transfer: {context: sales-ivr, exten: s, priority: 2}
"""))
    assert "exec Goto(sales-ivr,s,2)" in [str(e) for e in h2.channel.events]


async def test_transfer_refuses_injection(h: Harness):
    result = await h.run(flow("""
  t:
    transfer: "{{ evil }}"
""", head="variables: {evil: '123,1)&System(rm'}"))
    assert h.steps()[0] == ("t", "error") and result.outcome == "fallback:answered"
    assert not [e for e in h.channel.events if e.kind == "exec"]


async def test_voicemail(h: Harness):
    result = await h.run(flow("""
  v:
    voicemail: {mailbox: "2000", prompt: leave-a-message}
"""))
    assert result.outcome == "voicemail"
    assert [str(e) for e in h.channel.events][-1] == "exec Goto(acd-voicemail,2000,1)"


async def test_callback_with_caller_id_and_asked_number(h: Harness):
    cb = """
  c:
    callback: {queue: general, note: "from {{ call.flow }}", ask_number: {prompt: enter-number, min_digits: 6, max_digits: 12}}
    on: {ok: bye, failed: sorry}
  sorry:
    hangup: {prompt: sorry}
"""
    await h.run(flow(cb))
    assert h.callbacks.requests[0].number == "+441234567890" and h.callbacks.requests[0].note == "from t"
    h2 = Harness()
    await h2.run(flow(cb), "07700900123#", caller=None)
    assert h2.callbacks.requests[0].number == "07700900123"
    h3 = Harness()
    await h3.run(flow(cb), ["", "", ""], caller=None)  # silent at the first try and both retries
    assert h3.steps()[0] == ("c", "failed") and not h3.callbacks.requests


# ---------------------------------------------------------------- subflows, language, hangup
async def test_subflow_call_and_return_with_inputs_and_outputs(h: Harness):
    sub = compile_yaml("""
        flow: sub
        inputs: [greeting]
        outputs: [answer]
        steps:
          ask:
            menu: {prompt: "{{ greeting | sound }}"}
            on: {"1": yes, "2": no}
            next: no
          yes:
            set: {answer: "'yes'"}
            next: done
          no:
            set: {answer: "'no'"}
            next: done
          done:
            return: answered
    """, "sub.yaml")
    main = compile_yaml(flow("""
  call_sub:
    subflow: {flow: sub, with: {greeting: "'hello-there'"}, outputs: [answer]}
    on: {answered: say}
  say:
    play: "you-said {{ answer | sound }}"
    next: bye
"""))
    await h.run(main, "1", flows={"t": main, "sub": sub})
    assert h.channel.played() == ["hello-there", "you-said", "yes"]
    assert h.steps() == [("ask", "1"), ("yes", "done"), ("done", "answered"), ("call_sub", "answered"),
                         ("say", "done"), ("bye", "hangup")]


async def test_language_and_hangup(h: Harness):
    result = await h.run(flow("""
  l:
    language: fr
    next: g
  g:
    hangup: {prompt: au-revoir}
"""))
    assert h.channel.variables == {"CHANNEL(language)": "fr"}
    assert result.outcome == "hangup" and [str(e) for e in h.channel.events][-2:] == ["play au-revoir", "hangup (flow)"]


async def test_bad_language_from_data_is_an_error(h: Harness):
    await h.run(flow("""
  l:
    language: "{{ lang }}"
    next: bye
""", head="variables: {lang: 'fr;rm -rf'}"))
    assert h.steps()[0] == ("l", "error")


# ---------------------------------------------------------------- guards and failures
async def test_max_steps_guard_triggers_fallback(h: Harness):
    result = await h.run(flow("""
  m:
    menu: {prompt: again}
    on: {"1": m}
    next: bye
"""), "1,1,1,1,1,1,1,1,1,1", max_steps=5)
    assert result.failed and "more than 5 steps" in result.error
    assert result.outcome == "fallback:answered"
    assert h.channel.played()[-1] == "an-error-has-occurred"
    assert h.recorder.kinds()[-2:] == ["flow_failure", "flow_end"]


async def test_port_exception_gets_apology_and_fallback_queue(h: Harness):
    h.directory.fail_with = ConnectionError("db down")
    result = await h.run(flow("""
  who:
    lookup_caller: true
    next: bye
""", head="on_failure: {prompt: [sorry-technical], queue: emergency, priority: 9}"))
    assert result.failed and result.outcome == "fallback:answered"
    assert h.channel.played() == ["sorry-technical"]
    req = h.queue.requests[0][1]
    assert req.queue == "emergency" and req.priority == 9
    failure = [d for _, k, d in h.recorder.events if k == "flow_failure"][0]
    assert failure["step"] == "who" and "db down" in failure["reason"]


async def test_fallback_queue_failure_ends_with_failed(h: Harness):
    from acd.flows.memory import ScriptedQueue

    h.queue = ScriptedQueue(fail_with=RuntimeError("acd down"))
    h.directory.fail_with = RuntimeError("db down")
    result = await h.run(flow("""
  who:
    lookup_caller: true
    next: bye
"""))
    assert result.outcome == "failed" and result.failed  # the dialplan's [acd-fallback] takes the caller


async def test_caller_hangup_is_recorded(h: Harness):
    result = await h.run(flow("""
  m:
    menu: {prompt: pick}
    on: {"1": bye}
    next: bye
"""), "")
    # the script has one empty group: a timeout, then the retries hit the end of the script
    assert result.outcome == "caller_hangup" and not result.failed
    assert h.recorder.kinds()[-1] == "flow_end"


async def test_record_has_timings_and_versions(h: Harness):
    f = compile_yaml(flow("""
  a:
    play: x
    next: bye
"""))
    await h.run(f)
    step = h.step_data("a")
    assert step["version"] == str(f.version) and step["duration_ms"] >= 0 and step["started_at"] == h.clock.now()
    assert h.recorder.kinds() == ["flow_start", "flow_step", "flow_step", "flow_end"]
