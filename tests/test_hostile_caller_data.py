"""Hostile caller data through every path that forwards it (issue 10), against the
emulator over TCP. Assertions are on the exact bytes fsapp wrote (the emulator's own
recording of its side of the socket, Switch.record_wire) and on what the emulator,
reading them by FreeSWITCH's rules (fsapp/sim/fsstrings.py), understood: one leg, the
literal value, no `${...}` run.

Paths: the inbound client's originate variables, uuid_setvar and sendevent headers; the
Call API's set/export (sendmsg); a flow's set node, text prompt, queue node (the router's
agent originate and its queue-event sendevent), transfer node (bridge) and its
on_hangup call record in SQL."""
import re
import time

import gevent
import pytest

from fsapp.esl import InboundClient, OutboundServer
from fsapp.esl.syntax import UnsafeValue, literal
from fsapp.routing.backend import MemoryBackend
from fsapp.routing.config import loads_routing, seed_backend
from fsapp.routing.router import Router
from fsapp.sim import CallerScript, Socket, Switch
from tests.hostile import HOSTILE, REPORTED

UUID = rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture(scope="module")
def switch():
    sw = Switch(esl=("127.0.0.1", 0)).start()
    sw.record_wire()
    sw.add_agent("1001", ring_s=0.05, talk_s=600)
    esl = InboundClient("127.0.0.1", sw.esl_port, "ClueCon", command_timeout=10.0).start()
    try:
        yield sw, esl
    finally:
        esl.stop()
        sw.stop()


def app_sent(wire: bytes, app: str, arg: str) -> bool:
    """Whether `app` was sent with exactly this argument, in either of the two forms
    syntax.sendmsg_execute uses: an execute-app-arg header, or (long or multi-line) the
    body, read by its Content-Length."""
    a = arg.encode("utf-8")
    header = b"execute-app-name: " + app.encode() + b"\nexecute-app-arg: " + a + b"\n"
    body = re.compile(rb"execute-app-name: " + re.escape(app.encode()) + rb"\ncontent-type: text/plain\n"
                      rb"event-lock: true\nEvent-UUID: " + UUID + rb"\nContent-Length: "
                      + str(len(a)).encode() + rb"\n\n" + re.escape(a))
    return header in wire or body.search(wire) is not None


def sent_since(sw, mark: int) -> bytes:
    return b"".join(sw.wire_log[mark:])


# ---- inbound client ----------------------------------------------------------------------------
@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v[:24]))
def test_originate_variable_is_one_literal_value_of_one_leg(switch, value):
    sw, esl = switch
    mark, seen = len(sw.wire_log), len(sw.originates)
    try:
        leg = esl.originate("user/1001", "&park", {"origination_caller_id_name": value, "fsapp_note": value},
                            timeout=5)
    except UnsafeValue as exc:
        assert exc.field.startswith("originate variable") and exc.value == value
        assert b"originate" not in sent_since(sw, mark)        # nothing reached the switch
        return
    try:
        (parsed,) = sw.originates[seen:]
        assert parsed["legs"] == ["user/1001"]
        assert parsed["variables"]["fsapp_note"] == value
        assert parsed["variables"]["origination_caller_id_name"] == value
        assert sw.channels[leg].get_var("fsapp_note") == value
        assert sw.api_expansions == []
    finally:
        esl.uuid_kill(leg)


def test_the_reported_caller_id_is_refused_and_a_quoted_name_is_escaped(switch):
    sw, esl = switch
    mark = len(sw.wire_log)
    with pytest.raises(UnsafeValue, match="counting them"):
        esl.originate("user/1001", "&park", {"origination_caller_id_number": REPORTED}, timeout=5)
    leg = esl.originate("user/1001", "&park", {"fsapp_note": "O'Brien, J"}, timeout=5)
    esl.uuid_kill(leg)
    # ' -> \' (= split), \\\' (, split), \\\\\\\' (space split); "," -> \, -> \\, ; " " -> \s -> \\s -> \\\\s
    line = re.search(rb"bgapi originate [^\n]*", sent_since(sw, mark)).group(0)
    assert line == (b"bgapi originate {fsapp_note=O" + b"\\" * 7 + b"'Brien" + b"\\" * 2 + b"," + b"\\" * 4
                    + b"sJ,originate_timeout=5}user/1001 &park")
    assert sw.originates[-1]["variables"]["fsapp_note"] == "O'Brien, J"


def test_uuid_setvar_and_sendevent_carry_values_exactly(switch):
    sw, esl = switch
    leg = esl.originate("user/1001", "&park", timeout=5)
    got = []
    esl.subscribe("CUSTOM fsapp::hostile")
    esl.on("fsapp::hostile", got.append)
    accepted = []
    try:
        for i, value in enumerate(HOSTILE):
            try:
                esl.uuid_setvar(leg, f"fsapp_h{i}", value)
            except UnsafeValue:
                assert "\0" in value or "\r" in value or "\n" in value
            else:
                assert sw.channels[leg].get_var(f"fsapp_h{i}") == value
            try:
                esl.sendevent("CUSTOM", {"Event-Subclass": "fsapp::hostile", "Caller-ID": value, "N": str(i)})
                accepted.append(i)
            except UnsafeValue as exc:
                assert "Caller-ID" in exc.field
        with gevent.Timeout(10):
            while len(got) < len(accepted):
                gevent.sleep(0.02)
        assert {ev.get("N"): ev.get("Caller-ID") for ev in got} == {str(i): HOSTILE[i] for i in accepted}
        assert sw.api_expansions == []
    finally:
        esl.uuid_kill(leg)


# ---- the Call API (sendmsg) --------------------------------------------------------------------
def test_call_set_and_export_store_the_literal_value(switch):
    sw, esl = switch
    results = {}

    def handler(call):
        call.answer()
        for i, value in enumerate(HOSTILE):
            for how in ("set", "export"):
                try:
                    getattr(call, how)(f"fsapp_{how}{i}", value)
                    results[(how, i)] = "sent"
                except UnsafeValue as exc:
                    results[(how, i)] = exc.why
        results["uuid"] = call.uuid
        call.hangup()

    server = OutboundServer(handler, ("127.0.0.1", 0), linger=1).start()
    sw.dialplan.add(r"^8100$", Socket(f"127.0.0.1:{server.port} async full"))
    mark = len(sw.wire_log)
    try:
        sw.place_call(CallerScript(dial="8100", caller_id="13800138000")).wait(60)
    finally:
        server.stop(timeout=2)
    wire = sent_since(sw, mark)
    for i, value in enumerate(HOSTILE):
        for how in ("set", "export"):
            if results[(how, i)] != "sent":
                assert "\0" in value, (how, value, results[(how, i)])
    # the exact frame of one case: ${system rm -rf /} escaped for two expansions (set)
    assert app_sent(wire, "set", "fsapp_set11=\\\\\\${system rm -rf /}")
    # a line break goes in the body, never in a header
    assert re.search(rb"execute-app-name: set\ncontent-type: text/plain\nevent-lock: true\nEvent-UUID: "
                     + UUID + rb"\nContent-Length: \d+\n\nfsapp_set3=a\r\nEvent-Name: HEARTBEAT", wire)
    assert sw.api_expansions == []


def test_call_set_values_arrive_literally(switch):
    """What the channel holds after set: read back through uuid_getvar while the call runs."""
    sw, esl = switch
    read_back = {}

    def handler(call):
        call.answer()
        for i, value in enumerate(HOSTILE):
            if "\0" in value:
                continue
            call.set(f"fsapp_v{i}", value)
            read_back[i] = sw.channels[call.uuid].get_var(f"fsapp_v{i}")
        call.hangup()

    server = OutboundServer(handler, ("127.0.0.1", 0), linger=1).start()
    sw.dialplan.add(r"^8101$", Socket(f"127.0.0.1:{server.port} async full"))
    try:
        sw.place_call(CallerScript(dial="8101", caller_id="13800138000")).wait(60)
    finally:
        server.stop(timeout=2)
    assert read_back == {i: v for i, v in enumerate(HOSTILE) if "\0" not in v}
    assert sw.api_expansions == []


# ---- a flow: set, text prompt, queue (router), transfer (bridge), call record (SQL) -------------
FLOW = """
flow: hostile
numbers: ["7000"]
languages: [en-US]
start: greet
vars: {who: null, raw: null}
nodes:
  greet:
    set: {who: "call.caller_name or ''", raw: "(call.variables['Caller-Caller-ID-Name'] or '')[:60] | replace('\\0', '')"}
    next: speak
  speak:
    play: [{text: "Hello {{ who }}"}, {file: "/tmp/fsapp-greet-{{ raw }}.wav"}]
    next: agent
  agent:
    queue: {queue: sales, timeout: 30s, next: pstn, on_overflow: pstn, on_timeout: pstn, on_error: pstn}
  pstn:
    transfer: {number: "95598", gateway: pstn, on_fail: bye}
  bye:
    hangup: {}
on_hangup:
  # the runtime writes the call record; the flow gives it an outcome (the hostile name, as data)
  - set: {outcome: "(call.variables['Caller-Caller-ID-Name'] or '')[:40]"}
"""

ROUTING = """
queues:
  sales: {strategy: top-down, moh-sound: "silence_stream://200", offer-timeout: 5}
agents:
  "2001": {contact: user/2001, status: Available, wrap-up-time: 0}
tiers:
  - {queue: sales, agent: "2001"}
"""

FLOW_CASES = [REPORTED, "a\r\nEvent-Name: HEARTBEAT", "a\0b", "x" * 10_000, "张伟 😀", "\u202eevil",
              "'; DROP TABLE fsapp_call_records; --", "${system rm -rf /}", "O'Brien, J", "+8613800138000"]


@pytest.fixture
def hotline(tmp_path, sqlite_odbc):
    from fsapp.flow.compiler import Environment, compile_file
    from fsapp.flow.interpreter import Services, run_call
    from fsapp.store import Store
    sw = Switch(esl=("127.0.0.1", 0)).start()
    sw.record_wire()
    sw.add_agent("2001", ring_s=0.05, talk_s=0.3)
    (tmp_path / "hostile.yaml").write_text(FLOW, encoding="utf-8")
    flow, problems = compile_file(tmp_path / "hostile.yaml", Environment(tts=True))
    assert not problems, problems
    store = Store({"main": sqlite_odbc}, spool_dir=tmp_path / "spool", start=False)
    store.migrate()
    esl = InboundClient("127.0.0.1", sw.esl_port, "ClueCon", command_timeout=10.0).start()
    backend = MemoryBackend()
    cfg = loads_routing(ROUTING, "routing.yaml")
    seed_backend(cfg, backend, time.time() - 100)
    router = Router(cfg, backend, esl, worker_id="w-hostile", lease=10.0, store=store).start()
    services = Services(store=store, router=router, tts="flite|kal", recordings=tmp_path / "rec")
    outcomes = {}

    def handler(call):
        outcomes[call.uuid] = run_call(call, flow, services)

    server = OutboundServer(handler, ("127.0.0.1", 0), linger=1).start()
    sw.dialplan.add(r"^7000$", Socket(f"127.0.0.1:{server.port} async full"))
    try:
        yield sw, store, outcomes
    finally:
        server.stop(timeout=2)
        router.stop()
        esl.stop()
        store.close()
        sw.stop()


def test_hostile_callers_through_a_flow_reach_the_switch_and_sql_as_data(hotline):
    sw, store, outcomes = hotline
    for n, hostile in enumerate(FLOW_CASES):
        mark, seen = len(sw.wire_log), len(sw.originates)
        report = sw.place_call(CallerScript(dial="7000", caller_id=hostile, caller_name=hostile)).wait(60)
        with gevent.Timeout(30):
            while report.uuid not in outcomes:
                gevent.sleep(0.05)
        wire = sent_since(sw, mark)
        number = hostile if re.fullmatch(r"\+?[0-9*#]{1,32}", hostile) else None
        shown = number or "0000000000"
        # the router rang the agent: one leg, the caller id a literal value (or unknown)
        ring = re.search(rb"bgapi originate (\S+) &park\n", wire).group(1)
        assert re.fullmatch(rb"\{origination_uuid=" + UUID + rb",origination_caller_id_number="
                            + shown.encode().replace(b"+", rb"\+") + rb",fsapp_queue=sales,fsapp_member_uuid="
                            + UUID + rb",fsapp_offer=[0-9a-f]{8},ignore_early_media=true,originate_timeout=5\}"
                            rb"user/2001", ring), ring
        agent_ring, bridge = sw.originates[seen:seen + 2]
        assert agent_ring["legs"] == ["user/2001"]
        assert agent_ring["variables"]["origination_caller_id_number"] == shown
        # the queue event carries the number only if it is one
        assert re.search(rb"sendevent CUSTOM\nEvent-Subclass: fsapp::queue\nAction: enter\nQueue: sales\n"
                         rb"Member-UUID: " + UUID + rb"\nAgent: \nCaller-ID: " + (number or "").encode()
                         .replace(b"+", rb"\+") + rb"\n\n", wire)
        # the transfer node's bridge: one leg to the gateway, nothing else
        assert bridge["kind"] == "bridge" and bridge["legs"] == ["sofia/gateway/pstn/95598"]
        assert app_sent(wire, "bridge", "sofia/gateway/pstn/95598")
        # the text prompt spoke the caller's name as the policy made it, literally
        said = [p for p in report.heard if p.startswith("say:")]
        from fsapp.esl import callerid
        assert said == [f"say:Hello {callerid.name(hostile) or ''}"]
        # a templated file path is data: sent so that expansion gives it back literally
        path = f"/tmp/fsapp-greet-{hostile[:60]}.wav".replace("\0", "")   # the flow drops NUL itself
        if "\n" not in path:
            assert app_sent(wire, "playback", literal(path))
        assert sw.api_expansions == []
        assert outcomes[report.uuid].reason in ("hangup", "transfer")
    rows = store.execute("SELECT caller_number, outcome FROM fsapp_call_records ORDER BY id")
    assert len(rows) == len(FLOW_CASES)
    for row, hostile in zip(rows, FLOW_CASES):
        number = hostile if re.fullmatch(r"\+?[0-9*#]{1,32}", hostile) else None
        assert row["caller_number"] == number
        # a bound parameter, so never SQL; the SQLite ODBC driver reads it as a C string,
        # so a raw NUL ends it (the caller-id policy removes NUL from call.caller_name)
        assert row["outcome"] == hostile[:40].split("\0")[0]
