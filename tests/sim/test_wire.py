"""Framing and encoding exactly as the captures show (README observations 1-8)."""
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fsapp.sim import wire

from .eslclient import Conn

ROOT = Path(__file__).resolve().parents[2]


def test_url_encoding_matches_freeswitch():
    assert wire.url_encode("tone_stream://%(500,0,800)") == "tone_stream%3A//%25(500,0,800)"
    assert wire.url_encode("#") == "%23"
    assert wire.url_encode("open=true") == "open%3Dtrue"
    assert wire.url_encode("support@default") == "support%40default"
    assert wire.url_encode("Mon, 23 Nov 2026 14:35:59 GMT") == "Mon,%2023%20Nov%202026%2014%3A35%3A59%20GMT"
    assert wire.url_encode("1 6 \\d+") == "1%206%20%5Cd%2B"
    assert wire.url_encode("a\nb&c") == "a%0Ab%26c"
    assert wire.url_encode("1.10.12-release+git~2024") == "1.10.12-release%2Bgit~2024"
    assert wire.url_encode("CRIT Once changed type 'reloadxml'") == "CRIT%20Once%20changed%20type%20'reloadxml'"
    assert wire.url_encode("%23") == "%23"          # an existing %XX is kept (switch_url_encode)
    assert wire.url_encode("中") == "%E4%B8%AD"


def test_frames():
    assert wire.command_reply("+OK accepted") == b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
    assert wire.api_response("false") == b"Content-Type: api/response\nContent-Length: 5\n\nfalse"
    ev = wire.event_plain([("Event-Name", "BACKGROUND_JOB"), ("Job-Command", "originate")], "+OK x\n")
    head, _, body = ev.partition(b"\n\n")
    assert head == b"Content-Length: %d\nContent-Type: text/event-plain" % len(body)
    assert body == b"Event-Name: BACKGROUND_JOB\nJob-Command: originate\nContent-Length: 6\n\n+OK x\n"
    plain = wire.event_plain([("Event-Name", "HEARTBEAT")], None)
    assert plain.endswith(b"Event-Name: HEARTBEAT\n\n")
    js = wire.event_json([("Event-Name", "BACKGROUND_JOB")], "+OK x\n").partition(b"\n\n")[2]
    assert json.loads(js) == {"Event-Name": "BACKGROUND_JOB", "Content-Length": "6", "_body": "+OK x\n"}
    assert not js.endswith(b"\n")
    notice = wire.outbound_disconnect("u")
    assert notice.startswith(b"Content-Type: text/disconnect-notice\nControlled-Session-UUID: u\n"
                             b"Content-Disposition: disconnect\nContent-Length: 67\n\n")


def test_cli_runs_an_emulator():
    proc = subprocess.Popen([sys.executable, "-c", "from fsapp.cli import run; run()", "sim",
                             "--esl", "127.0.0.1:0", "--password", "s3cret", "--route", "^1$=park",
                             "--agent", "1001:1:5:busy"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        deadline = time.monotonic() + 20
        while "emulated FreeSWITCH on" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
        port = int(line.split("127.0.0.1:")[1].split()[0])
        c = Conn(socket.create_connection(("127.0.0.1", port), timeout=5))
        c.sock.settimeout(None)
        assert c.next().content_type == "auth/request"
        assert c.cmd("auth s3cret").h["Reply-Text"] == "+OK accepted"
        assert c.cmd("api status").body.startswith("UP ")
        c.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cli_rejects_bad_routes():
    out = subprocess.run([sys.executable, "-c", "from fsapp.cli import run; run()", "sim", "--esl", "127.0.0.1:0",
                          "--route", "^1$=voicemail"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "unknown target 'voicemail'" in out.stderr


# -- issue 10: the emulator's command reader under hostile bytes -------------------------
def read_all(data: bytes, size: int):
    a, b = socket.socketpair()
    try:
        for i in range(0, len(data), size):
            a.sendall(data[i:i + size])
        a.shutdown(socket.SHUT_WR)
        reader, out = wire.CommandReader(b), []
        while (cmd := reader.read()) is not None:
            out.append(cmd)
        return out
    finally:
        a.close()
        b.close()


def test_command_reader_non_ascii_digit_length_is_no_length():
    # '²'.isdigit() is True but int('²') raises: the reader crashed with ValueError
    cmds = read_all("sendevent CUSTOM\nContent-Length: \u00b2\n\napi status\n\n".encode(), 7)
    assert [c[0] for c in cmds] == ["sendevent CUSTOM", "api status"]
    assert cmds[0][2] == ""


def test_command_reader_split_anywhere_and_crlf():
    data = (b"auth ClueCon\r\n\r\nsendmsg\ncall-command: execute\nContent-Length: 5\n\nhello"
            b"\n\napi status\n\n")
    for size in (1, 2, 5, len(data)):
        cmds = read_all(data, size)
        assert [(c[0], c[2]) for c in cmds] == [("auth ClueCon", ""), ("sendmsg", "hello"), ("api status", "")]


def test_command_framer_is_bounded():
    framer = wire.CommandFramer()
    with pytest.raises(wire.CommandTooLarge):
        for _ in range(wire.MAX_COMMAND_HEAD // 4096 + 2):
            framer.feed(b"x" * 4095 + b"\n")
    with pytest.raises(wire.CommandTooLarge):
        wire.CommandFramer().feed(b"sendevent x\nContent-Length: %d\n\n" % (wire.MAX_COMMAND_BODY + 1))
    # what the reader does with it: hang up, as on EOF
    assert read_all(b"sendevent x\nContent-Length: 99999999999\n\n", 4096) == []


from hypothesis import given, settings, strategies as st  # noqa: E402


def frame_all(data: bytes, cuts: list[int]):
    framer, out, last = wire.CommandFramer(), [], 0
    for cut in cuts + [len(data)]:
        out += framer.feed(data[last:cut])
        last = cut
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"api status", b"\n", b"\r\n", b"\n\n", b"Content-Length: ", b"5", b"\xc2\xb2",
                                 b"-1", b"99999999999999999999999", b"sendevent CUSTOM", b"x: y", b":", b"\x00\xff"])
                | st.binary(max_size=8), max_size=30).map(b"".join),
       st.lists(st.integers(min_value=1, max_value=300), max_size=6))
def test_command_framer_any_bytes_same_commands_however_split(data, cuts):
    try:
        whole = frame_all(data, [])
    except wire.CommandTooLarge:
        # a Content-Length over the limit (the strategy can build one) is refused
        # however the bytes arrive
        with pytest.raises(wire.CommandTooLarge):
            frame_all(data, sorted({c for c in cuts if c < len(data)}))
        return
    assert frame_all(data, sorted({c for c in cuts if c < len(data)})) == whole
    for first, headers, body in whole:
        assert isinstance(first, str) and isinstance(body, str)
