"""fsapp.esl.wire against every message FreeSWITCH sent in the captures, split reads,
hostile values, UTF-8 and the serializer."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsapp.esl import wire
from fsapp.esl.wire import Parser, ProtocolError, encode_command, encode_sendmsg


def capture_messages(captures_dir):
    """(file, raw bytes) of every fs->app message, per connection stream."""
    streams = {}
    for path in sorted(captures_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if entry["dir"] == "fs->app" and entry["raw"]:
                streams.setdefault((path.name, entry["conn"]), []).append(entry["raw"].encode("utf-8"))
    return streams


def test_every_captured_message_frames_exactly(captures_dir):
    streams = capture_messages(captures_dir)
    assert len(streams) >= 12
    total = 0
    for (name, conn), raws in streams.items():
        parser = Parser()
        messages = parser.feed(b"".join(raws))
        assert len(messages) == len(raws), (name, conn)
        assert parser.pending_bytes == 0
        for raw, msg in zip(raws, messages):
            head, _, body = raw.partition(b"\n\n")
            assert msg.content_type, (name, raw[:80])
            assert msg.body.encode("utf-8") == body, (name, conn)
            if msg.content_type == "text/event-plain":
                inner_head = body.split(b"\n\n", 1)[0].decode()
                names = [line.split(": ", 1)[0] for line in inner_head.split("\n")]
                assert list(msg.event.headers) == list(dict.fromkeys(names))
                lazy = Parser().feed(raw)[0].event  # get() before .headers: same values
                assert {k: lazy.get(k) for k in names} == msg.event.headers
                if "Content-Length" in msg.event.headers:
                    assert len(msg.event.body.encode()) == int(msg.event.headers["Content-Length"])
            elif msg.content_type == "text/event-json":
                obj = json.loads(body)
                assert msg.json == obj
                assert msg.event.body == obj.get("_body", "")
                assert msg.event.get("Event-Name") == obj["Event-Name"]
        total += len(messages)
    assert total >= 500


def test_split_reads_at_every_byte_of_a_session(captures_dir):
    raws = capture_messages(captures_dir)[("outbound_hangup_mid_playback.jsonl", "outbound")]
    data = b"".join(raws)
    whole = [m.headers for m in Parser().feed(data)]
    for size in (1, 2, 3, 7, 64, 1000, 4096):
        parser = Parser()
        got = []
        for i in range(0, len(data), size):
            got += parser.feed(data[i:i + size])
        assert [m.headers for m in got] == whole


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(b"x" * 3000)), min_size=1, max_size=12))
def test_split_anywhere_property(cuts):
    raw = (b"Content-Type: api/response\nContent-Length: 6\n\n+OK 1\n" +
           wire_event_plain({"Event-Name": "DTMF", "DTMF-Digit": "#"}) +
           b"Content-Type: command/reply\nReply-Text: +OK\n\n")
    points = sorted({c % len(raw) for c in cuts})
    parser = Parser()
    out = []
    last = 0
    for p in points + [len(raw)]:
        out += parser.feed(raw[last:p])
        last = p
    assert [m.content_type for m in out] == ["api/response", "text/event-plain", "command/reply"]
    assert out[1].event["DTMF-Digit"] == "#"


def wire_event_plain(headers, body=""):
    from urllib.parse import quote
    lines = [f"{k}: {quote(v, safe='')}" for k, v in headers.items()]
    raw_body = body.encode()
    if raw_body:
        lines.append(f"Content-Length: {len(raw_body)}")
    inner = ("\n".join(lines) + "\n\n").encode() + raw_body
    return f"Content-Length: {len(inner)}\nContent-Type: text/event-plain\n\n".encode() + inner


def test_encoded_newline_cannot_forge_a_header():
    raw = wire_event_plain({"Event-Name": "CHANNEL_EXECUTE",
                            "variable_evil": "x\nUnique-ID: forged\nApplication-UUID: forged",
                            "Unique-ID": "real"})
    event = Parser().feed(raw)[0].event
    assert event.get("Unique-ID") == "real"
    assert event.get("Application-UUID") is None
    assert event.headers["Unique-ID"] == "real"
    assert event.headers["variable_evil"] == "x\nUnique-ID: forged\nApplication-UUID: forged"
    assert "Application-UUID" not in event.headers


def test_utf8_caller_name_and_body_byte_lengths():
    name = "张三（市民）"
    body = "+OK 回拨成功\n"
    raw = wire_event_plain({"Event-Name": "BACKGROUND_JOB", "Caller-Caller-ID-Name": name}, body)
    # FreeSWITCH also sends raw UTF-8 (not only %-encoded) in some values
    raw += b"Content-Type: api/response\nContent-Length: " + str(len(body.encode())).encode() + b"\n\n" + body.encode()
    for size in (1, 5, len(raw)):
        parser = Parser()
        out = []
        for i in range(0, len(raw), size):
            out += parser.feed(raw[i:i + size])
        assert out[0].event.get("Caller-Caller-ID-Name") == name
        assert out[0].event.headers["Caller-Caller-ID-Name"] == name
        assert out[0].event.body == body
        assert out[1].body == body


def test_json_event_and_greenswitch_compat_fields():
    obj = {"Event-Name": "DTMF", "DTMF-Digit": "5", "Unique-ID": "u1"}
    body = json.dumps(obj).encode()
    raw = f"Content-Length: {len(body)}\nContent-Type: text/event-json\n\n".encode() + body
    msg = Parser().feed(raw)[0]
    assert msg.event.name == "DTMF" and msg.event["DTMF-Digit"] == "5"
    assert msg.json == obj
    reply = Parser().feed(b"Content-Type: command/reply\nReply-Text: -ERR invalid\n\n")[0]
    assert reply.data == "-ERR invalid" and not reply.ok


def test_connect_reply_is_channel_data(captures_dir):
    raws = capture_messages(captures_dir)[("outbound_full_session.jsonl", "outbound")]
    msg = Parser().feed(raws[0])[0]
    assert msg.content_type == "command/reply"
    assert msg.headers["Event-Name"] == "CHANNEL_DATA"
    assert msg.headers["Reply-Text"] == "+OK\n"  # %2BOK%0A decoded
    assert msg.headers["Control"] == "full"
    assert msg.headers["Caller-Caller-ID-Number"] == "13800138000"


def test_protocol_errors_are_clear():
    with pytest.raises(ProtocolError, match="Content-Length"):
        Parser().feed(b"Content-Type: api/response\nContent-Length: abc\n\n")
    with pytest.raises(ProtocolError, match="header line"):
        Parser().feed(b"Content-Type: api/response\ngarbage\n\n")


def test_serializer():
    assert encode_command("api status") == b"api status\n\n"
    raw = encode_sendmsg("playback", "tone_stream://%(500,0,800)", event_uuid="abc")
    assert raw == (b"sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
                   b"execute-app-arg: tone_stream://%(500,0,800)\nevent-lock: true\nEvent-UUID: abc\n\n")
    with pytest.raises(ValueError, match="newline"):
        encode_command("api status\n\nexit")
    with pytest.raises(ValueError, match="newline"):
        encode_sendmsg("playback", "x\nexecute-app-name: hangup")
    assert encode_command("sendmsg", body="héllo").endswith(b"Content-Length: 6\n\nh\xc3\xa9llo")


def test_fast_block_decoding_equals_split_then_decode(captures_dir):
    """The C-speed path (decode whole block, then split) must give exactly what
    splitting first and decoding each value gives, on every captured event and on
    hostile values."""
    blocks = []
    for raws in capture_messages(captures_dir).values():
        for raw in raws:
            head, _, body = raw.partition(b"\n\n")
            if b"text/event-plain" in head:
                blocks.append(body.split(b"\n\n", 1)[0].decode())
    blocks += ["A: x%3A%20y\nB: 1",          # decodes to a second ': '
               "A: 100%\nB: 2",               # bad escape
               "A: %E5%BC%A0%E4%B8%89\nB: %0d",  # UTF-8, carriage return
               "A: a%0ab\nB: 3",              # lowercase encoded newline
               "A: =3D\nB: 4"]                # a raw '='
    for block in blocks:
        assert wire._parse_plain_block(block) == wire.parse_headers(block), block[:80]


# -- issue 10: any bytes give messages or ProtocolError, nothing else --------------------
def json_message(body: bytes) -> bytes:
    return b"Content-Type: text/event-json\nContent-Length: %d\n\n" % len(body) + body


@pytest.mark.parametrize("body", [b"[" * 100000 + b"]" * 100000,
                                  b'{"Event-Name":"DTMF","x":' + b'{"a":' * 5000 + b"1" + b"}" * 5001])
def test_deeply_nested_json_is_a_protocol_error(body):
    with pytest.raises(ProtocolError, match="nested too deeply"):
        Parser().feed(json_message(body))


@pytest.mark.parametrize("value", [b"1", b"null", b"[]", b"{}", b"true", b'["x"]'])
def test_json_body_that_is_not_a_string_is_a_protocol_error(value):
    with pytest.raises(ProtocolError, match="_body is a JSON"):
        Parser().feed(json_message(b'{"Event-Name":"BACKGROUND_JOB","_body":' + value + b"}"))


def test_json_lone_surrogates_become_replacement_characters():
    msg = Parser().feed(json_message(b'{"Event-Name":"DTMF","Caller":"a\\ud800b","_body":"\\udfff"}'))[0]
    assert msg.event["Caller"] == "a\ufffdb" and msg.event.body == "\ufffd"
    msg.event["Caller"].encode("utf-8")  # a lone surrogate would fail here


@pytest.mark.parametrize("length", [b"abc", b"-1", b"1x", b"9" * 400, b" 5", "\u00b2".encode()])
def test_non_numeric_inner_content_length_is_a_protocol_error(length):
    inner = b"Event-Name: BACKGROUND_JOB\nContent-Length: " + length + b"\n\n+OK\n"
    raw = b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(inner) + inner
    with pytest.raises(ProtocolError, match="event body Content-Length"):
        Parser().feed(raw)


def test_inner_content_length_beyond_the_message_is_a_protocol_error():
    inner = b"Event-Name: BACKGROUND_JOB\nContent-Length: 50\n\n+OK\n"
    raw = b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(inner) + inner
    with pytest.raises(ProtocolError, match="exceeds"):
        Parser().feed(raw)


@pytest.mark.parametrize("length", ["\u0661\u0662", "+5", "1_0", "9" * 400])
def test_outer_content_length_is_ascii_digits(length):
    # int() accepts the first three (and refuses the last with a ValueError of its own)
    with pytest.raises(ProtocolError, match="Content-Length"):
        Parser().feed(f"Content-Type: api/response\nContent-Length: {length}\n\n".encode() + b"x" * 20)


def test_malformed_event_header_line_does_not_raise_later():
    """The event's header block is decoded lazily, in user code: a line without ':' is
    skipped there (as get() skips it) instead of raising long after framing."""
    inner = b"Event-Name: DTMF\ngarbage line\nDTMF-Digit: 5\n\n"
    raw = b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(inner) + inner
    event = Parser().feed(raw)[0].event
    assert event.headers == {"Event-Name": "DTMF", "DTMF-Digit": "5"}
    assert event.get("garbage line") is None


def test_maximum_frame_size_is_enforced_before_buffering():
    parser = Parser(max_frame_bytes=1000)
    assert parser.feed(b"Content-Type: api/response\nContent-Length: 1000\n\n" + b"x" * 1000)[0].body == "x" * 1000
    with pytest.raises(ProtocolError, match=r"exceeds the maximum frame of 1000 bytes \(\[esl\] max_frame_bytes\)"):
        parser.feed(b"Content-Type: api/response\nContent-Length: 1001\n\n")
    with pytest.raises(ProtocolError, match="maximum frame of 67108864"):
        Parser().feed(b"Content-Type: api/response\nContent-Length: %d\n\n" % ((64 << 20) + 1))


def test_head_without_end_is_bounded_when_trickled():
    parser = Parser()
    with pytest.raises(ProtocolError, match="no end of headers"):
        for _ in range(wire.MAX_HEAD_BYTES // 4096 + 2):
            parser.feed(b"X-Junk: " + b"y" * 4087 + b"\n")


def test_big_body_in_segment_reads_then_the_next_message():
    """The body arrives in 1,460-byte reads (kept as a list, joined once); the read that
    completes it also carries the next message, split inside its head."""
    body = bytes(range(256)) * 4096  # 1 MiB, every byte value
    raw = (b"Content-Type: api/response\nContent-Length: %d\n\n" % len(body) + body +
           b"Content-Type: command/reply\nReply-Text: +OK\n\n")
    parser = Parser()
    out = []
    for i in range(0, len(raw), 1460):
        out += parser.feed(raw[i:i + 1460])
        if not out:
            assert parser.pending_bytes == min(i + 1460, len(raw)) - raw.index(b"\n\n") - 2
    assert [m.content_type for m in out] == ["api/response", "command/reply"]
    assert out[0]._raw_body == body and parser.pending_bytes == 0


def test_repeated_hangup_cause(captures_dir):
    """CHANNEL_HANGUP_COMPLETE carries Hangup-Cause twice (captures, "Captures added
    later"), in plain and in the JSON text. Plain: the first value wins, as FreeSWITCH's
    own header lookup; JSON: json.loads keeps the last. FreeSWITCH sends one value twice,
    so both read the same cause; the lazy `get` and the decoded `headers` must agree."""
    streams = capture_messages(captures_dir)
    seen = 0
    for name in ("record_with_audio.jsonl", "inbound_events_json.jsonl"):
        for (file, _), raws in streams.items():
            if file != name:
                continue
            for msg in Parser().feed(b"".join(raws)):
                if msg.event is not None and msg.event.get("Event-Name") == "CHANNEL_HANGUP_COMPLETE":
                    text = msg.body if msg.content_type == "text/event-plain" else msg._raw_body.decode()
                    assert text.count("Hangup-Cause") >= 2   # repeated on the wire
                    assert msg.event.get("Hangup-Cause") == msg.event.headers["Hangup-Cause"] != ""
                    seen += 1
    assert seen >= 2
    plain = (b"Event-Name: CHANNEL_HANGUP_COMPLETE\nHangup-Cause: NORMAL_CLEARING\n"
             b"Answer-State: hangup\nHangup-Cause: USER_BUSY\n\n")
    raw = b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(plain) + plain
    ev = Parser().feed(raw)[0].event
    assert ev.get("Hangup-Cause") == ev.headers["Hangup-Cause"] == "NORMAL_CLEARING"
    assert list(ev.headers).count("Hangup-Cause") == 1
    body = b'{"Event-Name":"CHANNEL_HANGUP_COMPLETE","Hangup-Cause":"NORMAL_CLEARING","Hangup-Cause":"USER_BUSY"}'
    raw = b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(body) + body
    ev = Parser().feed(raw)[0].event
    assert ev.get("Hangup-Cause") == ev.headers["Hangup-Cause"] == "USER_BUSY"
