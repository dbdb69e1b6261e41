"""Byte-level framing of the Event Socket, as FreeSWITCH 1.10 writes it.

Pure functions, no I/O: the listeners build frames here and write them whole.
The shapes (header order, where Content-Length goes, which bodies end with a newline)
follow the captures in tests/data/esl-captures (README observations 1-8).
"""
from __future__ import annotations

import functools
import json
import re
from urllib.parse import unquote

# switch_url_encode(): everything below ' ' or above '~' and these characters are
# %XX-encoded; a '%' that already starts a %XX (upper-case hex) sequence is kept.
_UNSAFE = set('\r\n "#%&+:;<=>?@[\\]^`{|}')
_HEX = "0123456789ABCDEF"

DISCONNECT_BODY = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


# Characters url_encode passes through unchanged: printable ASCII but the unsafe ones
# ('%' is unsafe here: whether it stays depends on what follows it).
_SAFE = frozenset(chr(c) for c in range(0x21, 0x7F)) - _UNSAFE
_NEEDS_ENCODING = re.compile("[^" + "".join(re.escape(c) for c in sorted(_SAFE)) + "]")


def url_encode(value: str) -> str:
    """switch_url_encode of one header value. Most values (uuids, names, numbers) are
    already safe and come back as they are: a regular-expression scan instead of the
    byte loop, which took most of the emulator's CPU under load (issue 14)."""
    if _NEEDS_ENCODING.search(value) is None:
        return value
    return _url_encode_bytes(value)


def _url_encode_bytes(value: str) -> str:
    raw = value.encode("utf-8")
    out = []
    n = len(raw)
    for i, byte in enumerate(raw):
        ch = chr(byte)
        if ch == "%" and i + 2 < n and chr(raw[i + 1]) in _HEX and chr(raw[i + 2]) in _HEX:
            out.append(ch)
        elif byte < 0x20 or byte > 0x7E or ch in _UNSAFE:
            out.append("%" + _HEX[byte >> 4] + _HEX[byte & 15])
        else:
            out.append(ch)
    return "".join(out)


def url_decode(value: str) -> str:
    return unquote(value)


def command_reply(text: str, extra: list[tuple[str, str]] | None = None) -> bytes:
    lines = ["Content-Type: command/reply", f"Reply-Text: {text}"]
    lines += [f"{k}: {v}" for k, v in (extra or [])]
    return ("\n".join(lines) + "\n\n").encode()


def api_response(body: str) -> bytes:
    data = body.encode("utf-8")
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(data) + data


def auth_request() -> bytes:
    return b"Content-Type: auth/request\n\n"


def inbound_disconnect() -> bytes:
    body = DISCONNECT_BODY.encode()
    return b"Content-Type: text/disconnect-notice\nContent-Length: %d\n\n" % len(body) + body


def outbound_disconnect(uuid: str) -> bytes:
    body = DISCONNECT_BODY.encode()
    return (f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {uuid}\n"
            f"Content-Disposition: disconnect\nContent-Length: {len(body)}\n\n").encode() + body


def linger_notice(uuid: str, channel_name: str, linger_time: int) -> bytes:
    return (f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {uuid}\n"
            f"Content-Disposition: linger\nChannel-Name: {channel_name}\n"
            f"Linger-Time: {linger_time}\nContent-Length: 0\n\n").encode()


def event_plain(headers: list[tuple[str, str]], body: str | None) -> bytes:
    text = "".join(f"{k}: {url_encode(v)}\n" for k, v in headers)
    if body is not None:
        data = body.encode("utf-8")
        text += f"Content-Length: {len(data)}\n\n"
        payload = text.encode("utf-8") + data
    else:
        payload = (text + "\n").encode("utf-8")
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(payload) + payload


def event_json(headers: list[tuple[str, str]], body: str | None) -> bytes:
    # Written pair by pair, not through a dict: a repeated header stays repeated, as in
    # FreeSWITCH's JSON (CHANNEL_HANGUP_COMPLETE has "Hangup-Cause" twice).
    pairs = list(headers)
    if body is not None:
        pairs += [("Content-Length", str(len(body.encode("utf-8")))), ("_body", body)]
    dump = functools.partial(json.dumps, ensure_ascii=False)
    payload = ("{" + ",".join(f"{dump(k)}:{dump(v)}" for k, v in pairs) + "}").encode("utf-8")
    return b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(payload) + payload


def connect_reply(channel_headers: list[tuple[str, str]], full: bool) -> bytes:
    """The outbound `connect` reply: the CHANNEL_DATA headers, then the reply headers."""
    lines = [f"{k}: {url_encode(v)}" for k, v in channel_headers]
    lines += ["Content-Type: command/reply", "Reply-Text: %2BOK%0A", "Socket-Mode: async",
              "Control: " + ("full" if full else "single-channel")]
    return ("\n".join(lines) + "\n\n").encode("utf-8")


# What the emulator accepts from one client before it hangs up on it, as it does on EOF
# (commands are short; a sendevent/sendmsg body is a few kB).
MAX_COMMAND_HEAD = 1 << 20
MAX_COMMAND_BODY = 16 << 20


class CommandTooLarge(ValueError):
    """A client sent more than MAX_COMMAND_HEAD/MAX_COMMAND_BODY for one command."""


Command = tuple[str, list[tuple[str, str]], str]


class CommandFramer:
    """Splits what an ESL client writes into commands; pure, no I/O.

    A command is header lines ended by an empty line; `sendmsg`/`sendevent` may carry a
    body of Content-Length bytes. FreeSWITCH tolerates `\\r\\n`, so do we. Linear in the
    bytes fed however they are split: one bytearray, searched from where the last search
    stopped; bounded by MAX_COMMAND_HEAD and MAX_COMMAND_BODY (CommandTooLarge).
    """

    def __init__(self):
        self._buf = bytearray()
        self._scan = 0                      # the end of the head is not before this
        self._pending: tuple[str, list[tuple[str, str]], int] | None = None  # head read, body due

    def feed(self, data: bytes) -> list[Command]:
        self._buf += data
        out: list[Command] = []
        while True:
            if self._pending is None:
                if not self._take_head():
                    return out
            first, headers, length = self._pending
            if len(self._buf) < length:
                return out
            body = self._buf[:length].decode("utf-8", "replace")
            del self._buf[:length]
            self._pending, self._scan = None, 0
            out.append((first, headers, body))

    def _take_head(self) -> bool:
        buf = self._buf
        start = 0
        while start < len(buf) and buf[start] in b"\r\n":  # blank lines between commands
            start += 1
        ends = [(i, i + len(sep)) for sep in (b"\n\n", b"\r\n\r\n")
                if (i := buf.find(sep, max(start, self._scan))) >= 0]
        if not ends:
            if len(buf) - start > MAX_COMMAND_HEAD:
                raise CommandTooLarge(f"no end of command within {MAX_COMMAND_HEAD} bytes")
            del buf[:start]
            self._scan = max(0, len(buf) - 3)  # a separator may straddle two reads
            return False
        end, after = min(ends)
        lines = buf[start:end].decode("utf-8", "replace").replace("\r\n", "\n").split("\n")
        del buf[:after]
        first, headers = lines[0].strip(), []
        for line in lines[1:]:
            if ":" in line:
                k, _, v = line.partition(":")
                # read_packet: the value starts after the spaces that follow the colon;
                # trailing spaces are part of it
                headers.append((k.strip(), v.lstrip(" ")))
        # ASCII digits only: str.isdigit() also takes '²', which int() refuses.
        length = next((int(v) for k, v in headers if k.lower() == "content-length"
                       and v.isascii() and v.isdigit() and len(v) < 20), 0)
        if length > MAX_COMMAND_BODY:
            raise CommandTooLarge(f"Content-Length {length} exceeds {MAX_COMMAND_BODY} bytes")
        self._pending = (first, headers, length)
        return True


class CommandReader:
    """Commands from a client socket, one at a time (CommandFramer over recv)."""

    def __init__(self, sock, tap=None):
        self._sock = sock
        self._tap = tap            # called with each chunk as read (Switch.record_wire)
        self._framer = CommandFramer()
        self._ready: list[Command] = []

    def read(self) -> Command | None:
        """Return (first line, headers, body); None on EOF or when the client sent more
        than one command may hold (the emulator then hangs up, as on EOF)."""
        while not self._ready:
            data = self._sock.recv(65536)
            if not data:
                return None
            if self._tap is not None:
                self._tap(data)
            try:
                self._ready = self._framer.feed(data)
            except CommandTooLarge:
                return None
        return self._ready.pop(0)
