"""Issue 14: fsapp sends only the commands a call needs. Counted on the emulator's side
of the socket (Switch.record_wire): what fsapp wrote, command by command."""
import collections
import select
import socket

import gevent
import pytest

from fsapp.esl import OutboundServer
from fsapp.esl.outbound import effective_backlog
from fsapp.sim import CallerScript, Socket, Switch, WaitPrompt
from fsapp.sim import wire as sim_wire

TONE = "tone_stream://%(100,0,800)"
LOW = "tone_stream://%(100,0,600)"


def commands_written(chunks):
    """(first line, headers) of each command, a body-borne application argument
    (content-type text/plain) folded in as execute-app-arg, as the switch reads it."""
    framer = sim_wire.CommandFramer()
    out = []
    for chunk in chunks:
        for first, headers, body in framer.feed(chunk):
            h = dict(headers)
            if h.get("content-type") == "text/plain" and "execute-app-arg" not in h:
                h["execute-app-arg"] = body
            out.append((first, h))
    return out


@pytest.fixture
def rig():
    srv = OutboundServer(lambda call: None, "127.0.0.1:0", command_timeout=5, app_timeout=20).start()
    sw = Switch(password="ClueCon", esl=("127.0.0.1", 0)).start()
    sw.dialplan.add(r"^7000$", Socket(f"127.0.0.1:{srv.port} async full"))
    yield sw, srv
    sw.stop()
    srv.stop(timeout=2)


def run(rig, handler, steps):
    sw, srv = rig
    srv.handler = handler
    log = sw.record_wire()
    report = sw.place_call(CallerScript(dial="7000", steps=steps)).wait(30)
    with gevent.Timeout(10):
        while srv.active_calls:
            gevent.sleep(0.02)
    return report, commands_written(log)


def test_a_list_of_prompts_is_one_playback(rig):
    """Before: one sendmsg per file (three applications for three files)."""
    seen = {}

    def handler(call):
        call.answer()
        seen["response"] = call.playback([TONE, LOW, TONE])
        call.hangup()

    report, sent = run(rig, handler, [WaitPrompt("600"), WaitPrompt("800")])
    apps = [(h.get("execute-app-name"), h.get("execute-app-arg")) for first, h in sent
            if h.get("call-command") == "execute"]
    assert apps == [("answer", None), ("playback", f"file_string://{TONE}!{LOW}!{TONE}")]
    assert report.heard == [TONE, LOW, TONE]
    assert seen["response"] == "FILE PLAYED"


def test_prompts_that_cannot_be_joined_play_one_by_one(rig):
    """A path with `!` (file_string's separator) or a space cannot be part of the list."""
    def handler(call):
        call.answer()
        call.playback([TONE, "say:hello world"])
        call.hangup()

    _, sent = run(rig, handler, [])
    apps = [h.get("execute-app-arg") for first, h in sent if h.get("execute-app-name") == "playback"]
    assert apps == [TONE, "say:hello world"]


def test_session_setup_commands(rig):
    """connect, myevents, linger (written together), the handler's commands, exit."""
    def handler(call):
        call.hangup()

    _, sent = run(rig, handler, [])
    names = collections.Counter(first.split(" ", 1)[0] for first, _ in sent)
    assert names == {"connect": 1, "myevents": 1, "linger": 1, "sendmsg": 1, "exit": 1}


def test_backlog_is_capped_by_somaxconn(tmp_path):
    cap = tmp_path / "somaxconn"
    cap.write_text("4096\n")
    assert effective_backlog(1024, str(cap)) == 1024
    cap.write_text("128\n")
    assert effective_backlog(1024, str(cap)) == 128
    assert effective_backlog(1024, str(tmp_path / "missing")) == 1024
    with pytest.raises(ValueError, match="backlog"):
        effective_backlog(0, str(cap))


def test_a_burst_of_connections_is_queued_not_refused():
    """Before: gevent's default backlog of 128. 600 connections opened while the server
    does not accept (its greenlet cannot run) must all connect; the kernel queues them."""
    burst = min(600, effective_backlog(1024) - 10)
    srv = OutboundServer(lambda call: None, "127.0.0.1:0").start()
    socks = []
    try:
        # plain blocking sockets, not gevent's: the hub does not run, nothing is accepted
        for _ in range(burst):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", srv.port))
            socks.append((s, err))
        # On loopback the handshake completes inside connect(); a connection the full
        # accept queue dropped is still in SYN_SENT: not writable.
        poller = select.poll()
        for s, _ in socks:
            poller.register(s, select.POLLOUT)
        ready: set[int] = set()
        for _ in range(100):   # until every handshake completed; a dropped one never does
            new = {fd for fd, ev in poller.poll(100)
                   if ev & select.POLLOUT and not ev & (select.POLLERR | select.POLLHUP)}
            for fd in new:
                poller.unregister(fd)
            ready |= new
            if len(ready) == burst:
                break
        assert len(ready) == burst
        assert srv.backlog >= burst
    finally:
        for s, _ in socks:
            s.close()
        srv.stop(timeout=1)


def test_a_socket_without_full_subscribes_with_myevents_and_does_not_linger():
    """`socket host:port async` (no `full`): FreeSWITCH 1.10.12 answers `linger` (and
    `event`) with -ERR command not found (it takes connect, exit, filter, resume, myevents, getvar,
    divert_events, sendmsg only), and fsapp used to send linger to every session: on a
    real switch such a call failed before its handler ran. The emulator now refuses them
    as the switch does."""
    seen = {}

    def handler(call):
        seen["full"] = call.full_control
        call.answer()
        seen["played"] = call.playback(TONE)
        call.hangup()

    srv = OutboundServer(handler, "127.0.0.1:0", command_timeout=5, app_timeout=20).start()
    sw = Switch(password="ClueCon", esl=("127.0.0.1", 0)).start()
    try:
        sw.dialplan.add(r"^7000$", Socket(f"127.0.0.1:{srv.port} async"))
        log = sw.record_wire()
        sw.place_call(CallerScript(dial="7000", steps=[])).wait(30)
        with gevent.Timeout(10):
            while srv.active_calls:
                gevent.sleep(0.02)
        verbs = [first.split(" ", 1)[0] for first, _ in commands_written(log)]
    finally:
        sw.stop()
        srv.stop(timeout=2)
    assert seen == {"full": False, "played": "FILE PLAYED"}
    assert verbs == ["connect", "myevents", "sendmsg", "sendmsg", "sendmsg", "exit"]

