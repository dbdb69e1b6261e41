"""The Event Socket wire format, with no I/O (in the style of h11/wsproto).

    parser = Parser()
    for message in parser.feed(data):      # bytes from any read, split anywhere
        ...
    sock.sendall(encode_command("api status"))

Framing follows what a real FreeSWITCH 1.10 sends (see tests/data/esl-captures,
observations 1-8): a block of `Name: value` lines ended by an empty line, then exactly
Content-Length *bytes* of body. Header values are URL-encoded; they are decoded one by one
*after* the block is split into lines, so an encoded newline (%0A) inside a value can never
forge a header (greenswitch decodes the whole block first, see docs/esl.md).

`text/event-plain` bodies are themselves a header block (plus an optional body, e.g. the
result of a BACKGROUND_JOB), `text/event-json` bodies are one JSON object; both become an
`Event` with the same shape, so callers never care which format the socket uses.
"""
from __future__ import annotations

import json
from binascii import a2b_qp
from operator import methodcaller
from urllib.parse import unquote

__all__ = ["Parser", "Message", "Event", "ProtocolError", "encode_command", "encode_sendmsg",
           "parse_headers"]

EVENT_PLAIN = "text/event-plain"
EVENT_JSON = "text/event-json"
COMMAND_REPLY = "command/reply"
API_RESPONSE = "api/response"
AUTH_REQUEST = "auth/request"
DISCONNECT_NOTICE = "text/disconnect-notice"

# A message head larger than this without its blank line is not FreeSWITCH talking
# (the biggest head in the captures, the outbound connect reply, is about 6 kB).
MAX_HEAD_BYTES = 1 << 20
MAX_BODY_BYTES = 64 << 20


class ProtocolError(ValueError):
    """The peer sent bytes that are not the Event Socket protocol."""


# Header values repeat endlessly on one socket (Core-UUID, dates to the second, channel
# variables), so decoded values are memoised; the cache is simply dropped when it grows.
_UNQUOTE_CACHE: dict[str, str] = {}
_UNQUOTE_CACHE_MAX = 20000
_split_header = methodcaller("split", ": ", 1)


def _unquote(value: str) -> str:
    decoded = _UNQUOTE_CACHE.get(value)
    if decoded is None:
        decoded = unquote(value, errors="replace")
        if len(_UNQUOTE_CACHE) >= _UNQUOTE_CACHE_MAX:
            _UNQUOTE_CACHE.clear()
        _UNQUOTE_CACHE[value] = decoded
    return decoded


def _parse_lines_slow(lines: list[str]) -> dict[str, str]:
    # A repeated header (FreeSWITCH repeats e.g. Hangup-Cause) keeps its first value,
    # as FreeSWITCH's own lookup does.
    headers: dict[str, str] = {}
    for line in lines:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"header line without ':' {line[:80]!r}")
        headers.setdefault(name.strip(), value[1:] if value.startswith(" ") else value)
    return headers


def parse_headers(block: str) -> dict[str, str]:
    """`Name: value` lines -> ordered dict, each value URL-decoded after splitting."""
    lines = block.split("\n")
    try:
        pairs = list(map(_split_header, lines))  # C speed on well-formed blocks
        headers = dict(pairs)
    except ValueError:
        headers = _parse_lines_slow(lines)
    else:
        if len(headers) != len(pairs):
            headers = _first_wins([p[0] for p in pairs], [p[1] for p in pairs])
    encoded = [name for name, value in headers.items() if "%" in value]
    for name in encoded:
        headers[name] = _unquote(headers[name])
    return headers


def _first_wins(names, values) -> dict[str, str]:
    """FreeSWITCH repeats some headers (e.g. Hangup-Cause) and its own lookup returns the
    first; dict() would keep the last. Re-applying the pairs in reverse order restores
    the first values; positions stay those of the first occurrences."""
    headers = dict(zip(names, values))
    headers.update(zip(reversed(names), reversed(values)))
    return headers


def _parse_plain_block(block: str) -> dict[str, str]:
    """Header block of a text/event-plain body. FreeSWITCH URL-encodes every value there
    (':' is %3A, '=' is %3D, newline %0A; observation 4), which allows C-speed paths:

    * If the block has no raw '=' and every '%' starts a valid escape, turning '%' into
      '=' makes it quoted-printable, which binascii decodes in one C call. If decoding
      added no newline (no %0A anywhere), every line is still exactly one header, so
      splitting after this decode is the same as splitting first and decoding each
      value. Otherwise: split first, decode each value after (parse_headers).
    * Lines are cut at ': ' with one replace+split when ': ' occurs exactly once a
      line (checked by counting); otherwise line by line.
    """
    newlines = block.count("\n")
    if "%" not in block:
        text = block
    elif "=" in block:
        return parse_headers(block)
    else:
        raw = block.replace("%", "=").encode("utf-8")
        decoded = a2b_qp(raw)
        if len(raw) - len(decoded) != 2 * block.count("%"):  # a '%' that was no escape
            return parse_headers(block)
        text = decoded.decode("utf-8", "replace")
        if text.count("\n") != newlines:  # an encoded newline: never let it split
            return parse_headers(block)
    parts = text.replace(": ", "\n").split("\n")
    if len(parts) != 2 * (newlines + 1):
        return parse_headers(block)
    names, values = parts[0::2], parts[1::2]
    headers = dict(zip(names, values))
    if len(headers) != len(names):
        headers.update(zip(reversed(names), reversed(values)))  # first value wins
    return headers


class Event:
    """One FreeSWITCH event: `headers` (ordered dict, values decoded) and `body` (str).

    Plain events are decoded lazily: `event.get(name)` finds one header in the raw block
    (what the runtime does for the few headers it routes on: Event-Name, Unique-ID,
    Application-UUID, ...); the full dict is built on first use of `.headers`. Both give
    the same, per-header decoded values.
    """

    __slots__ = ("_headers", "_raw", "body")

    def __init__(self, headers: dict[str, str] | None = None, body: str = "", raw: str | None = None):
        self._headers = headers
        self._raw = raw  # "Name: value\n..." block, when headers is None
        self.body = body

    @property
    def headers(self) -> dict[str, str]:
        if self._headers is None:
            self._headers = _parse_plain_block(self._raw)
            self._raw = None
        return self._headers

    def get(self, name: str, default=None):
        if self._headers is not None:
            return self._headers.get(name, default)
        raw = self._raw
        key = name + ": "
        if raw.startswith(key):
            start = len(key)
        else:  # the first occurrence, as in the dict
            start = raw.find("\n" + key)
            if start < 0:
                return default
            start += len(key) + 1
        end = raw.find("\n", start)
        value = raw[start:] if end < 0 else raw[start:end]
        return _unquote(value) if "%" in value else value

    @property
    def name(self) -> str | None:
        return self.get("Event-Name")

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def __repr__(self) -> str:
        return f"<Event {self.name} {self.get('Unique-ID', '')}>"


def _parse_plain_event(raw: bytes) -> Event:
    # Searching 6 kB of short lines for b"\n\n" is slow (a hit on every newline), so
    # the nested body is found from the end: it always follows a Content-Length header
    # that is the last of the block (observation 4).
    mark = raw.rfind(b"\nContent-Length: ")
    if mark >= 0:
        eol = raw.find(b"\n", mark + 1)
        if eol > 0 and raw.startswith(b"\n\n", eol) and raw.find(b"\n\n", 0, eol) < 0:
            event = Event(raw=raw[:eol].decode("utf-8", "replace"))
            start = eol + 2
            length = int(raw[mark + 17:eol])
            event.body = raw[start:start + length].decode("utf-8", "replace")
            return event
    end = raw.find(b"\n\n") if mark >= 0 else len(raw.rstrip(b"\n"))
    if end < 0:
        end = len(raw.rstrip(b"\n"))
    return Event(raw=raw[:end].decode("utf-8", "replace"))


def _parse_json_event(raw: bytes) -> tuple[Event, dict]:
    try:
        obj = json.loads(raw)
    except ValueError as exc:
        raise ProtocolError(f"text/event-json body is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("text/event-json body is not a JSON object")
    headers = {k: v if isinstance(v, str) else str(v) for k, v in obj.items() if k != "_body"}
    return Event(headers, obj.get("_body", "")), obj


class Message:
    """One framed message. `event` is set for text/event-plain and text/event-json,
    `json` (the decoded object) for text/event-json.

    Also answers greenswitch's ESLEvent interface (`.headers`, `.data`) so handlers
    written for greenswitch keep working.
    """

    __slots__ = ("content_type", "headers", "_raw_body", "_body", "event", "json")

    def __init__(self, headers: dict[str, str], raw_body: bytes = b""):
        self.headers = headers
        self.content_type = headers.get("Content-Type", "")
        self._raw_body = raw_body
        self._body = None
        self.event: Event | None = None
        self.json: dict | None = None
        if self.content_type == EVENT_PLAIN:
            self.event = _parse_plain_event(raw_body)
        elif self.content_type == EVENT_JSON:
            self.event, self.json = _parse_json_event(raw_body)

    @property
    def body(self) -> str:
        if self._body is None:
            self._body = self._raw_body.decode("utf-8", "replace")
        return self._body

    @property
    def reply_text(self) -> str:
        return self.headers.get("Reply-Text", "")

    @property
    def data(self) -> str:  # greenswitch's name for the reply text / api body
        return self.reply_text if self.content_type == COMMAND_REPLY else self.body

    @property
    def ok(self) -> bool:
        """False for the three -ERR shapes: Reply-Text, api body (observation 12)."""
        text = self.reply_text if self.content_type == COMMAND_REPLY else self.body
        return not text.startswith("-ERR")

    def __repr__(self) -> str:
        return f"<Message {self.content_type} {self.event!r}>" if self.event else \
            f"<Message {self.content_type} {self.reply_text or self.body[:40]!r}>"


# Outer heads repeat ("Content-Length: 2489\nContent-Type: text/event-plain"), so short
# ones are memoised by their bytes; each message still gets its own dict.
_HEAD_CACHE: dict[bytes, dict[str, str]] = {}
_HEAD_CACHE_MAX = 4096


def _parse_head(raw: bytes) -> dict[str, str]:
    cached = _HEAD_CACHE.get(raw)
    if cached is not None:
        return cached.copy()
    head = parse_headers(raw.decode("utf-8", "replace"))
    if len(raw) <= 128:
        if len(_HEAD_CACHE) >= _HEAD_CACHE_MAX:
            _HEAD_CACHE.clear()
        _HEAD_CACHE[raw] = head.copy()
    return head


class Parser:
    """Incremental framer: feed() any chunk of bytes, get the complete messages back."""

    __slots__ = ("_buf", "_head", "_need")

    def __init__(self):
        self._buf = b""
        self._head: dict[str, str] | None = None  # parsed head waiting for its body
        self._need = 0

    def feed(self, data: bytes) -> list[Message]:
        buf = self._buf + data if self._buf else data
        pos = 0
        size = len(buf)
        out: list[Message] = []
        while True:
            head = self._head
            if head is None:
                end = buf.find(b"\n\n", pos)
                if end < 0:
                    if size - pos > MAX_HEAD_BYTES:
                        raise ProtocolError(f"no end of headers within {MAX_HEAD_BYTES} bytes")
                    break
                if end == pos:  # stray blank line between messages: skip it
                    pos += 1
                    continue
                head = _parse_head(buf[pos:end])
                pos = end + 2
                length = head.get("Content-Length")
                if length is None:
                    out.append(Message(head))
                    continue
                try:
                    need = int(length)
                except ValueError:
                    raise ProtocolError(f"bad Content-Length {length!r}") from None
                if need < 0 or need > MAX_BODY_BYTES:
                    raise ProtocolError(f"Content-Length {need} out of range")
                self._head, self._need = head, need
            need = self._need
            if size - pos < need:
                break
            out.append(Message(head, buf[pos:pos + need]))
            pos += need
            self._head = None
        self._buf = buf[pos:] if pos < size else b""
        return out

    @property
    def pending_bytes(self) -> int:
        return len(self._buf)


def _check_line(what: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError(f"{what} must not contain a newline: {value!r}")
    return value


def encode_command(command: str, headers: dict[str, str] | None = None, body: str | None = None) -> bytes:
    """`command\\nName: value\\n...\\n\\n` (+ Content-Length and body when given)."""
    parts = [_check_line("command", command)]
    if headers:
        for name, value in headers.items():
            parts.append(f"{_check_line('header name', name)}: {_check_line(name, str(value))}")
    raw_body = b""
    if body is not None:
        raw_body = body.encode("utf-8")
        parts.append(f"Content-Length: {len(raw_body)}")
    return ("\n".join(parts) + "\n\n").encode("utf-8") + raw_body


def encode_sendmsg(app: str, arg: str | None = None, event_uuid: str | None = None,
                   event_lock: bool = True, uuid: str | None = None) -> bytes:
    """sendmsg execute: Event-UUID comes back as Application-UUID (observation 22);
    event-lock serialises apps instead of nesting them (observation 23)."""
    headers = {"call-command": "execute", "execute-app-name": app}
    if arg is not None and arg != "":
        headers["execute-app-arg"] = arg
    if event_lock:
        headers["event-lock"] = "true"
    if event_uuid:
        headers["Event-UUID"] = event_uuid
    return encode_command(f"sendmsg {uuid}" if uuid else "sendmsg", headers)
