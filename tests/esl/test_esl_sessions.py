"""The ESL session rules without sockets (fsapp/esl/session.py, call_session.py,
inbound_session.py): real FreeSWITCH 1.10.12 bytes from tests/data/esl-captures are fed
in, the commands the sessions return are compared with the ones the capture sent, and
the results with what the capture's README observed. No gevent, no socket, no clock."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from fsapp.esl import wire
from fsapp.esl.call_session import CONNECT, EXIT, CallSession, Collect, Ended, hangup_frame, setup_commands
from fsapp.esl.errors import AuthError, CallHangup
from fsapp.esl.inbound_session import InboundSession, reconnect_delay
from fsapp.esl.session import CommandSession

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "esl-captures"


def entries(name: str, conn: str):
    for line in (CAPTURES / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["conn"] == conn and not entry.get("eof"):
            yield entry["dir"], entry["raw"].encode("utf-8")


def as_read(raw: bytes) -> tuple[str, dict[str, str]]:
    """A command as the switch reads it: its first line and headers, the application's
    argument under execute-app-arg whether it came as that header or as the body
    (syntax.sendmsg_execute sends a long one as the body)."""
    head, _, body = raw.decode("utf-8").partition("\n\n")
    lines = head.split("\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    if headers.get("content-type") == "text/plain" and "Content-Length" in headers:
        del headers["content-type"], headers["Content-Length"]
        headers["execute-app-arg"] = body
    return lines[0], headers


def sendmsg_fields(raw: bytes) -> dict[str, str]:
    head = raw.decode("utf-8").strip("\n").split("\n")
    return dict(line.split(": ", 1) for line in head[1:])


class OutboundReplay:
    """One captured outbound connection replayed through CommandSession + CallSession:
    each captured command is re-made by the sessions (and must come out byte for byte),
    each captured FreeSWITCH chunk is fed in."""

    def __init__(self, name: str, conn: str = "outbound"):
        self.conn = CommandSession()
        self.call: CallSession | None = None
        self.replies: dict[object, wire.Message] = {}
        self.completed: dict[str, wire.Event] = {}      # Event-UUID (the waiter) -> its completion
        self.ended: list[Ended] = []
        self.collects: dict[str, Collect] = {}
        self.app_ids: list[str] = []
        self.refused: list[str] = []   # applications the capture sent after the hangup
        now = 0.0
        for n, (direction, raw) in enumerate(entries(name, conn)):
            now += 1.0
            if direction == "fs->app":
                self.feed(raw, now)
            else:
                self.command(n, raw)

    def feed(self, raw: bytes, now: float) -> None:
        for waiter, message in self.conn.receive_data(raw, now):
            if waiter is not None:
                self.replies[waiter] = message
                if waiter == "connect":
                    self.call = CallSession(message.headers, new_id=lambda: self._next_id)
            else:
                for out in self.call.receive(message):
                    if isinstance(out, Ended):
                        self.ended.append(out)
                    else:
                        self.completed[out[0]] = out[1]

    def command(self, n: int, raw: bytes) -> None:
        if raw == CONNECT:
            frame, waiter = CONNECT, "connect"
        elif raw.startswith(b"sendmsg\ncall-command: execute\n"):
            fields = sendmsg_fields(raw)
            app = fields["execute-app-name"]
            self._next_id = fields["Event-UUID"]
            collect = None
            if app in ("play_and_get_digits", "read"):
                words = fields["execute-app-arg"].split()
                var, max_digits, terms = ((words[7], words[1], words[4]) if app == "play_and_get_digits"
                                          else (words[3], words[1], words[5]))
                collect = self.collects[self._next_id] = Collect(app, var, int(max_digits), terms)
            elif app == "record":
                collect = Collect(app)
            if self.call.ended:
                with pytest.raises(CallHangup):
                    self.call.execute(app, fields.get("execute-app-arg"), self._next_id, collect)
                self.refused.append(app)
                return
            app_id, frame = self.call.execute(app, fields.get("execute-app-arg"), self._next_id, collect)
            assert app_id == fields["Event-UUID"]
            self.app_ids.append(app_id)
            waiter = n
        elif raw.startswith(b"sendmsg\ncall-command: hangup"):
            frame, waiter = hangup_frame(sendmsg_fields(raw)["hangup-cause"]), n
        else:
            frame, waiter = raw, n
        # the session's command is the capture's, as the switch reads it
        assert as_read(self.conn.send(frame, waiter)) == as_read(raw)


def test_a_whole_outbound_session_pairs_every_reply_and_every_completion():
    r = OutboundReplay("outbound_full_session")
    # every command got a reply, in order, whatever events came between (13)
    assert r.conn.pending == 0 and len(r.replies) == 13
    assert r.replies["connect"].headers["Unique-ID"] == r.call.uuid
    # each application completed by its own Application-UUID (22): all nine, in order
    assert list(r.completed) == r.app_ids[:-1]
    assert [e.get("Application") for e in r.completed.values()] == [
        "answer", "playback", "play_and_get_digits", "read", "record", "set", "export", "say"]
    assert all(e.get("Event-Name") == "CHANNEL_EXECUTE_COMPLETE" for e in r.completed.values())
    assert all(e.get("Application-UUID") == app_id for app_id, e in r.completed.items())
    # the collects saw their own keys; 12345# is one entry for max 6
    pagd, read = (r.collects[i] for i in r.app_ids[2:4])
    assert pagd.outcome(r.completed[r.app_ids[2]]).digits == "12345"
    assert "".join(pagd.keys) == "12345#" and "".join(read.keys) == "12345#"
    # uuid_kill during the bridge: the call ends once, the bridge's waiter is handed back
    assert len(r.ended) == 1 and r.ended[0].waiters == [r.app_ids[-1]]
    assert (r.call.ended, r.call.hangup_cause) == ("caller hung up", "NORMAL_CLEARING")
    with pytest.raises(CallHangup):
        r.call.execute("playback", "x", "late")


@pytest.mark.parametrize("conn", ["outbound", "outbound#2"])
def test_the_terminator_after_a_full_entry_is_dropped_not_typed_ahead(conn):
    """Capture pagd_terminator_after_full_entry: `1234#` into max 4; the `#` arrives after
    the first completion and reaches neither question."""
    r = OutboundReplay("pagd_terminator_after_full_entry", conn)
    first, second = (r.collects[i] for i in r.app_ids[1:3])
    result = first.outcome(r.completed[r.app_ids[1]])
    assert (result.digits, result.keys, result.terminator) == ("1234", "1234", "")
    assert r.call.typeahead == "" and second.keys == []
    late = second.outcome(r.completed[r.app_ids[2]])
    assert late.result == "failure" and late.no_input and not second.ended_by_stray_terminator()


def test_a_hangup_mid_playback_fails_the_waiting_application_once():
    r = OutboundReplay("outbound_hangup_mid_playback")
    assert len(r.ended) == 1
    ended = r.ended[0]
    assert ended.why in ("caller hung up", "channel hung up (linger notice)")
    assert r.call.hangup_cause
    # the playback in flight is handed back to be failed (or completed first), never lost;
    # the capture's next playback (sent after the hangup) is refused before it is sent
    in_flight = r.app_ids[1]
    assert (in_flight in ended.waiters) != (in_flight in r.completed)
    assert r.refused == ["playback"]


def test_application_ids_are_uuid_shaped_unique_and_new_in_a_forked_child():
    """The Event-UUIDs a call's applications get (AppIds): what FreeSWITCH sees has the
    shape of a uuid4, ids never repeat in a process, and a forked worker draws its own
    prefix so two processes never share ids."""
    import os
    from fsapp.esl.call_session import AppIds, new_app_id
    from fsapp.esl.syntax import uuid as checked_uuid
    ids = AppIds()
    made = [ids() for _ in range(1000)]
    shape = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")
    assert all(shape.match(i) for i in made) and len(set(made)) == 1000
    assert AppIds()()[:24] != made[0][:24]          # another generator, another prefix
    assert checked_uuid("Event-UUID", made[-1]) == made[-1]
    assert CallSession({"Unique-ID": "u1"})._new_id is new_app_id
    if not hasattr(os, "fork"):
        return
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: its first id, then exit at once
        os.write(write, ids().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 100).decode()
    os.waitpid(pid, 0)
    assert shape.match(child) and child[:24] != made[0][:24]


def test_an_execute_event_needs_no_lookup_when_no_question_is_in_flight():
    """CHANNEL_EXECUTE of a playback (no collecting app sent) is skipped before its
    Application-UUID is searched for; a question's still starts it."""
    call = CallSession({"Unique-ID": "u1"}, new_id=lambda: "a1")

    class Counting(wire.Event):
        __slots__ = ("asked",)

        def get(self, name, default=None):
            self.asked.append(name)
            return super().get(name, default)
    event = Counting({"Event-Name": "CHANNEL_EXECUTE", "Unique-ID": "u1", "Application-UUID": "a0"})
    event.asked = []
    message = wire.Message({"Content-Type": "text/event-plain"}, b"Event-Name: X\n\n")
    message.event = event
    assert call.receive(message) == () and "Application-UUID" not in event.asked
    call.execute("play_and_get_digits", "1 1 1 1000 # x.wav", "waiter", Collect("play_and_get_digits", "v", 1))
    event.asked, event.headers["Application-UUID"] = [], "a1"
    call.receive(message)
    assert "Application-UUID" in event.asked and call._running is not None


def test_type_ahead_keys_wait_for_the_next_question():
    call = CallSession({"Unique-ID": "u1"}, new_id=lambda: "a1")
    for key in "12#9":
        assert call.receive(event("DTMF", "u1", **{"DTMF-Digit": key})) == ()
    assert call.typeahead == "12#9"
    assert call.take_entry(4, "#") == ("12#", "12", True)
    assert call.typeahead == "9"
    # keys during a running collect are its own, not type-ahead
    collect = Collect("read", "v", 2, "#")
    call.execute("read", "1 2 x v 1000 #", "w", collect)
    call.receive(event("CHANNEL_EXECUTE", "u1", **{"Application-UUID": "a1"}))
    call.receive(event("DTMF", "u1", **{"DTMF-Digit": "5"}))
    assert collect.keys == ["5"] and call.typeahead == "9"
    done = event("CHANNEL_EXECUTE_COMPLETE", "u1", **{"Application-UUID": "a1", "variable_read_result": "success",
                                                     "variable_v": "95"})
    assert call.receive(done) == [("w", done.event)]
    # another channel's events are not this call's
    assert call.receive(event("DTMF", "other", **{"DTMF-Digit": "7"})) == ()
    assert call.receive(event("CHANNEL_HANGUP", "other")) == () and not call.ended


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 6), st.data())
def test_each_application_gets_its_own_completion_whatever_the_order(n, data):
    """Applications complete in any order, with keys and other channels' events between:
    each waiter gets the completion with its own Application-UUID, once; keys pressed
    while no collect runs are type-ahead, in order; other channels change nothing."""
    ids = iter(f"app-{i}" for i in range(n))
    call = CallSession({"Unique-ID": "me"}, new_id=lambda: next(ids))
    for i in range(n):
        call.execute("playback", f"p{i}.wav", f"w{i}")
    done = data.draw(st.permutations([("done", i) for i in range(n)]))
    noise = data.draw(st.lists(st.sampled_from([("key", "me"), ("key", "other"), ("done-other", None),
                                                ("hangup", "other")]), max_size=10))
    stream = list(done)
    for item in noise:
        stream.insert(data.draw(st.integers(0, len(stream))), item)
    got, pressed = [], []
    for kind, arg in stream:
        if kind == "done":
            msg = event("CHANNEL_EXECUTE_COMPLETE", "me", **{"Application-UUID": f"app-{arg}"})
        elif kind == "done-other":
            msg = event("CHANNEL_EXECUTE_COMPLETE", "other", **{"Application-UUID": "app-0"})
        elif kind == "key":
            digit = str(len(pressed) % 10)
            msg = event("DTMF", arg, **{"DTMF-Digit": digit})
            if arg == "me":
                pressed.append(digit)
        else:
            msg = event("CHANNEL_HANGUP", arg)
        got += [(w, e.get("Application-UUID")) for w, e in call.receive(msg)]
    assert sorted(got) == sorted((f"w{i}", f"app-{i}") for i in range(n))
    assert [w for w, _ in got] == [f"w{i}" for _, i in done]
    assert call.typeahead == "".join(pressed) and not call.ended


@pytest.mark.parametrize("disposition,why", [("linger", "channel hung up (linger notice)"),
                                             ("disconnect", "FreeSWITCH ended the session")])
def test_a_disconnect_notice_ends_the_call_and_hands_back_every_waiter(disposition, why):
    ids = iter(["a1", "a2"])
    call = CallSession({"Unique-ID": "u1"}, new_id=lambda: next(ids))
    call.execute("playback", "x", "w1")
    call.execute("sleep", "100", "w2")
    notice = wire.Parser().feed(f"Content-Type: text/disconnect-notice\nContent-Disposition: {disposition}\n"
                                f"Content-Length: 0\n\n".encode())[0]
    [ended] = call.receive(notice)
    assert (ended.why, ended.waiters) == (why, ["w1", "w2"])
    assert call.receive(notice) == ()            # once
    assert call.end("socket closed") is None and call.ended == why
    with pytest.raises(CallHangup):
        call.check()


def test_setup_and_teardown_frames():
    assert setup_commands("plain", 30) == ("myevents", "linger 30")
    assert setup_commands("json", 5) == ("myevents json", "linger 5")
    # a socket without `full` takes no linger (FreeSWITCH 1.10.12: -ERR command not found)
    assert setup_commands("plain", 30, full=False) == ("myevents",)
    assert EXIT == b"exit\n\n"


def event(name: str, uuid: str, **headers: str) -> wire.Message:
    lines = [f"Event-Name: {name}", f"Unique-ID: {uuid}"] + [f"{k}: {v}" for k, v in headers.items()]
    body = ("\n".join(lines) + "\n\n").encode()
    return wire.Parser().feed(b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body)[0]


REPLY = b"Content-Type: command/reply\nReply-Text: +OK\n\n"
API = b"Content-Type: api/response\nContent-Length: 3\n\n+OK"
EVENT = b"Content-Length: 23\nContent-Type: text/event-plain\n\nEvent-Name: HEARTBEAT\n\n"
NOTICE = b"Content-Type: text/disconnect-notice\nContent-Length: 0\n\n"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["reply", "api", "event", "notice"]), max_size=30), st.data())
def test_replies_are_matched_in_order_whatever_comes_between(stream, data):
    """Any interleaving of replies and other messages, split anywhere: the k-th reply goes
    to the k-th command; everything else goes to the owner, in order."""
    chunks = {"reply": REPLY, "api": API, "event": EVENT, "notice": NOTICE}
    session = CommandSession()
    replies = sum(kind in ("reply", "api") for kind in stream)
    for k in range(replies):
        assert session.send(f"api x{k}", k) == f"api x{k}\n\n".encode()
    raw = b"".join(chunks[kind] for kind in stream)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=5)))
    out = []
    for a, b in zip([0] + cuts, cuts + [len(raw)]):
        out += session.receive_data(raw[a:b], float(b))
    assert [w for w, _ in out if w is not None] == list(range(replies))
    kinds = ["reply" if m.content_type == wire.COMMAND_REPLY else "api" if m.content_type == wire.API_RESPONSE
             else "event" if m.event is not None else "notice" for _, m in out]
    assert kinds == stream
    assert all((w is None) == (k in ("event", "notice")) for (w, _), k in zip(out, kinds))
    assert session.pending == 0 and session.close() == []


def test_replies_with_nobody_waiting_go_to_the_owner_and_close_hands_back_the_rest():
    session = CommandSession(now=5.0)
    assert session.receive_data(REPLY, 6.0)[0][0] is None      # an unsolicited reply
    session.send_many([b"myevents\n\n", b"linger 30\n\n"], ["a", "b"])
    assert [w for w, _ in session.receive_data(REPLY, 7.5)] == ["a"]
    assert session.silent_for(10.0) == 2.5
    assert session.close() == ["b"] and session.pending == 0


# ---- the inbound client's rules ---------------------------------------------------------
def inbound_replay(name: str, session: InboundSession, accept_job_at_once: bool = True):
    """Replay one captured inbound connection: (replies by command index, BACKGROUND_JOB by
    waiter, Job-UUID FreeSWITCH granted by waiter)."""
    conn, replies, jobs, pending_jobs, granted = CommandSession(), {}, {}, {}, {}
    for n, (direction, raw) in enumerate(entries(name, "inbound")):
        if direction == "app->fs":
            if raw.startswith(b"auth "):
                frame = session.auth_command()
                assert frame == raw
                conn.send(frame, "auth")
            elif raw.startswith(b"bgapi "):
                job_id, frame = session.start_job(raw[6:-2].decode(), f"job{n}")
                assert frame == raw[:-1] + f"Job-UUID: {job_id}\n\n".encode()
                conn.send(frame, ("bgapi", job_id, f"job{n}"))
            elif raw.startswith(b"filter Unique-ID "):
                assert session.add_filter("Unique-ID", raw.split()[2].decode()) + "\n\n" == raw.decode()
                conn.send(raw, n)
            else:
                conn.send(raw, n)
            continue
        for waiter, message in conn.receive_data(raw, float(n)):
            if waiter == "auth":
                session.check_auth(message, "fs1")
            elif isinstance(waiter, tuple):
                pending_jobs[waiter] = message
                if accept_job_at_once:
                    granted[waiter[2]], done = session.job_accepted(waiter[1], message, waiter[2])
                    assert done is None
            elif waiter is not None:
                replies[waiter] = message
            elif message.event is not None:
                done = session.receive(message.event)
                if done is not None:
                    jobs[done] = message.event
            else:
                assert session.greeting(message) == (message.content_type == wire.AUTH_REQUEST)
    if not accept_job_at_once:
        for (_, job_id, waiter), message in pending_jobs.items():
            granted[waiter], jobs[waiter] = session.job_accepted(job_id, message, waiter)
    return replies, jobs, granted


@pytest.mark.parametrize("late", [False, True])
def test_a_bgapi_job_is_matched_by_the_job_uuid_freeswitch_names(late):
    """Capture inbound_events_plain: the recorder sent no Job-UUID, so FreeSWITCH named its
    own in the reply (14); the BACKGROUND_JOB with it completes the job, also when it came
    before the waiter learnt that id (late=True: kept as an orphan until claimed)."""
    ids = iter(["11111111-2222-3333-4444-555555555555", "66666666-7777-8888-9999-000000000000"])
    session = InboundSession("ClueCon", new_id=lambda: next(ids))
    _, jobs, granted = inbound_replay("inbound_events_plain", session, accept_job_at_once=not late)
    # two bgapi; the capture ends before the second one's BACKGROUND_JOB
    assert list(granted.values()) == ["fc6268c2-7981-427f-a3b1-383ad4f22578", "cea86730-007b-4651-958e-86a87f7bd412"]
    first, second = granted
    job = jobs[first]
    assert job.get("Event-Name") == "BACKGROUND_JOB" and job.get("Job-UUID") == granted[first]
    assert job.body.startswith("+OK ")
    assert jobs.get(second) is None
    assert session.fail_jobs() == [second]        # still waiting: lost with the connection


def test_a_job_is_completed_by_our_own_job_uuid_and_lost_with_the_connection():
    session = InboundSession("pw", new_id=lambda: "job-1")
    job_id, frame = session.start_job("status", "w")
    assert frame == b"bgapi status\nJob-UUID: job-1\n\n"
    reply = wire.Parser().feed(b"Content-Type: command/reply\nReply-Text: +OK Job-UUID: job-1\nJob-UUID: job-1\n\n")[0]
    assert session.job_accepted(job_id, reply, "w") == ("job-1", None)
    other = event("BACKGROUND_JOB", "x", **{"Job-UUID": "job-9"}).event
    assert session.receive(other) is None                      # kept as an orphan
    assert session.receive(event("HEARTBEAT", "x").event) is None
    assert session.fail_jobs() == ["w"] and session.fail_jobs() == []


def test_auth_accepted_refused_and_rejected():
    session = InboundSession("WrongPassword")
    with pytest.raises(AuthError, match="-ERR invalid"):
        inbound_replay("inbound_auth_bad", session)
    replies, _, _ = inbound_replay("inbound_auth_ok", InboundSession("ClueCon"))
    assert replies[5].body == "false"                          # api uuid_exists, in order
    rude = wire.Parser().feed(b"Content-Type: text/rude-rejection\nContent-Length: 14\n\nAccess Denied\n")[0]
    with pytest.raises(AuthError, match="rejected the connection: Access Denied"):
        InboundSession.greeting(rude)


def test_a_new_connection_restores_filters_first_then_one_subscription():
    session = InboundSession("pw")
    assert session.subscribe("CHANNEL_HANGUP", "CUSTOM callcenter::info") == \
        "event plain CHANNEL_HANGUP CUSTOM callcenter::info"
    session.add_filter("Unique-ID", "abc")
    session.add_filter("Event-Name", "DTMF")
    assert session.unsubscribe("HEARTBEAT") is None            # always subscribed
    assert session.delete_filter("Event-Name", "DTMF") == "filter delete Event-Name DTMF"
    assert session.restore_commands() == [
        (b"filter Unique-ID abc\n\n", "filter"),
        (b"event plain BACKGROUND_JOB CHANNEL_HANGUP HEARTBEAT CUSTOM callcenter::info\n\n", "event")]
    assert session.unsubscribe("CHANNEL_HANGUP") == "nixevent CHANNEL_HANGUP"
    assert session.restore_commands()[-1][0] == b"event plain BACKGROUND_JOB HEARTBEAT CUSTOM callcenter::info\n\n"


def test_reconnect_back_off_doubles_from_the_base_up_to_the_cap_with_jitter():
    assert reconnect_delay(0, 0.1, 30.0, 0.99) == 0.0
    assert [reconnect_delay(a, 0.1, 1.0, 1.0) for a in (1, 2, 3, 4, 5)] == pytest.approx([0.2, 0.4, 0.8, 1.0, 1.0])
    assert reconnect_delay(3, 0.1, 30.0, 0.0) == pytest.approx(0.4)   # jitter: 50 % .. 100 %


def test_the_layers_example_of_docs_esl_md_prints_what_it_says(capsys):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "esl.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", doc.split("## Layers: wire", 1)[1], re.S).group(1)
    exec(compile(block, "docs/esl.md", "exec"), {})
    assert capsys.readouterr().out.strip() == re.search(r"print\(call\.receive\(message\)\)\s+# (.*)", block).group(1)
