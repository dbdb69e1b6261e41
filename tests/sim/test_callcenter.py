"""mod_callcenter subset (fsapp/sim/callcenter.py): API replies, configuration errors and
the loopback-agent rule. The wire fidelity of both captured flows is in test_fidelity.py;
these run on a VirtualClock, so the 5 s loopback timeouts cost no wall time."""
import gevent
import pytest

from fsapp.sim import Apps, Switch, VirtualClock
from fsapp.sim.callcenter import AGENT_COLUMNS, CallCenterError

from .eslclient import Conn


def _switch(contact: str, clock=None) -> Switch:
    sw = Switch(password="ClueCon", esl=("127.0.0.1", 0), heartbeat=3600, clock=clock).start()
    sw.dialplan.add(r"^7100$", Apps([("answer", ""), ("sleep", "60000")]))   # never bridges onward
    sw.dialplan.add(r"^7110$", Apps([("answer", ""), ("bridge", "null/agent1")]))
    sw.dialplan.add(r"^7200$", Apps([("answer", ""), ("callcenter", "support@default")]))
    cc = sw.load_module("mod_callcenter")
    cc.add_queue("support@default")
    cc.add_agent("agent1@default", contact=contact, max_no_answer=3, wrap_up_time=5)
    cc.add_tier("support@default", "agent1@default")
    return sw


def _events(port: int) -> Conn:
    c = Conn.connect(port)
    c.next()
    c.cmd("auth ClueCon")
    c.cmd("event plain CHANNEL_HANGUP CUSTOM callcenter::info")   # words after CUSTOM are subclasses
    return c


def _actions(conn: Conn, until: str, timeout: float = 20.0) -> list[tuple[str, str]]:
    out = []
    with gevent.Timeout(timeout, AssertionError(f"no {until} within {timeout}s; got {out}")):
        while True:
            ev = conn.next().event or {}
            item = (ev.get("CC-Action") or ev.get("Event-Name", ""),
                    ev.get("CC-Agent-State") or ev.get("CC-Agent-Status") or ev.get("Hangup-Cause", ""))
            out.append(item)
            if item[0] == until:
                return out


def test_api_replies_as_mod_callcenter():
    sw = _switch("loopback/7110")
    try:
        api = sw.api.execute
        assert api("callcenter_config", "tier list") == \
            "queue|agent|state|level|position\nsupport@default|agent1@default|Ready|1|1\n+OK\n"
        body = api("callcenter_config", "agent list")
        assert body.startswith(AGENT_COLUMNS + "\nagent1@default|single_box||callback|loopback/7110|Logged Out|Waiting|3|5|")
        assert body.endswith("\n+OK\n")
        assert api("callcenter_config", "queue list members support@default") == "+OK\n"
        assert api("callcenter_config", "agent set status agent1@default 'On Break'") == "+OK\n"
        assert api("callcenter_config", "agent set status agent1@default Sleeping") == "-ERR Invalid Agent Status!\n"
        assert api("callcenter_config", "agent set state agent1@default Dozing") == "-ERR Invalid Agent State!\n"
        assert api("callcenter_config", "agent set colour agent1@default red") == "-ERR Invalid Agent Update KEY!\n"
        assert api("callcenter_config", "agent set status nobody@default Available") == "-ERR Agent not found!\n"
        assert api("callcenter_config", "agent set status") == "-ERR Invalid!\n"
        with gevent.Timeout(60, AssertionError(api("callcenter_config", "agent list"))):
            while "|On Break|" not in api("callcenter_config", "agent list"):   # applied on the next loop
                gevent.sleep(0.01)
    finally:
        sw.stop()


def test_bad_configuration_names_the_field():
    sw = Switch(esl=("127.0.0.1", 0))
    with pytest.raises(CallCenterError, match="name@domain"):
        sw.load_module("mod_callcenter").add_queue("support")
    with pytest.raises(CallCenterError, match="strategy 'random'"):
        sw.load_module("mod_callcenter").add_queue("support@default", strategy="random")
    with pytest.raises(CallCenterError, match="type 'uuid-standby'"):
        sw.load_module("mod_callcenter").add_agent("a@default", contact="loopback/1", type="uuid-standby")
    with pytest.raises(CallCenterError, match="queue 'nope@default' is not defined"):
        sw.load_module("mod_callcenter").add_tier("nope@default", "a@default")


def test_loopback_agent_that_never_bridges_goes_on_break_after_max_no_answer():
    sw = _switch("loopback/7100", clock=VirtualClock())
    conn = _events(sw.esl_port)
    try:
        sw.api.execute("originate", "loopback/7200/default &park")
        assert sw.api.execute("callcenter_config", "agent set status agent1@default Available") == "+OK\n"
        got = _actions(conn, "agent-max-no-answer", timeout=30)
        fails = [a for a in got if a[0] == "bridge-agent-fail"]
        assert len(fails) == 3
        assert ("CHANNEL_HANGUP", "DESTINATION_OUT_OF_ORDER") in got
        assert ("agent-status-change", "On Break") in _actions(conn, "agent-status-change")
        members = sw.api.execute("callcenter_config", "queue list members support@default")
        assert "|Waiting|" in members
        assert "|3|0|0|0|0\n+OK\n" in sw.api.execute("callcenter_config", "agent list")   # no_answer_count 3
    finally:
        conn.close()
        sw.stop()


def test_member_hanging_up_is_abandoned_and_discarded_later():
    sw = _switch("loopback/7100", clock=VirtualClock())
    sw.modules["mod_callcenter"].queues["support@default"].discard_abandoned_after = 10
    conn = _events(sw.esl_port)
    try:
        a_leg = sw.api.execute("originate", "loopback/7200/default &park").split()[1]
        _actions(conn, "members-count")
        assert "|Waiting|" in sw.api.execute("callcenter_config", "queue list members support@default")
        sw.api.execute("uuid_kill", a_leg)
        assert _actions(conn, "member-queue-end")[-1][0] == "member-queue-end"
        with gevent.Timeout(60, AssertionError("the member never showed as Abandoned")):
            while "|Abandoned|" not in sw.api.execute("callcenter_config", "queue list members support@default"):
                gevent.sleep(0.01)
        sw.clock.sleep(11)
        assert sw.api.execute("callcenter_config", "queue list members support@default") == "+OK\n"
    finally:
        conn.close()
        sw.stop()


def test_mod_callcenter_is_loaded_only_when_asked():
    """Without load_module the switch is FreeSWITCH without mod_callcenter: no
    callcenter_config API, the callcenter application is invalid; loading it is per switch."""
    plain, loaded = Switch(esl=("127.0.0.1", 0)), Switch(esl=("127.0.0.1", 0))
    assert plain.api.execute("callcenter_config", "tier list") == "-ERR callcenter_config Command not found!\n"
    assert "callcenter" not in plain.applications
    cc = loaded.load_module("mod_callcenter")
    assert loaded.load_module("mod_callcenter") is cc                  # once per switch
    assert loaded.api.execute("callcenter_config", "tier list") == "queue|agent|state|level|position\n+OK\n"
    assert loaded.applications["callcenter"] == cc.app
    assert "callcenter" not in plain.applications and "callcenter_config" not in plain.api.commands
    with pytest.raises(ValueError, match="no optional module 'mod_nope'; known: mod_callcenter"):
        loaded.load_module("mod_nope")
