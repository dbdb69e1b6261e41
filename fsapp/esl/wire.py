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
import re
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
# The largest body one message may announce, unless the Parser is given another
# ([esl] max_frame_bytes). An api/response to `show channels` with thousands of calls is a
# few MiB; 64 MiB leaves ample room and bounds what one connection can make fsapp buffer.
DEFAULT_MAX_FRAME_BYTES = 64 << 20
# A Content-Length is plain ASCII digits; 19 of them already exceed any frame we accept
# (and int() of thousands of digits is slow or refused by Python itself).
_MAX_LENGTH_DIGITS = 19


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


def _bad_length(text: str | bytes, where: str):
    """Raise for a Content-Length that is not plain ASCII digits. The callers test
    `text.isdigit() and text.isascii() and len(text) <= _MAX_LENGTH_DIGITS` inline (a call
    per message shows in bench/esl_parse.py): int() alone would also take ' 12', '+12',
    '1_2', Arabic-Indic digits, and raise ValueError on thousands of digits."""
    shown = text if isinstance(text, str) else text.decode("ascii", "replace")
    raise ProtocolError(f"bad {where} Content-Length {shown[:40]!r}")


def _parse_lines_slow(lines: list[str], strict: bool = True) -> dict[str, str]:
    # A repeated header (FreeSWITCH repeats e.g. Hangup-Cause) keeps its first value,
    # as FreeSWITCH's own lookup does.
    headers: dict[str, str] = {}
    for line in lines:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            if not strict:
                continue
            raise ProtocolError(f"header line without ':' {line[:80]!r}")
        headers.setdefault(name.strip(), value[1:] if value.startswith(" ") else value)
    return headers


def parse_headers(block: str, strict: bool = True) -> dict[str, str]:
    """`Name: value` lines -> ordered dict, each value URL-decoded after splitting.

    strict=False skips a line without ':' instead of raising ProtocolError: used for the
    header block inside an event body, which is decoded lazily (on first `.headers`),
    long after the framing was checked, where an exception would surface in user code.
    `Event.get()` never sees such a line either, so both views agree."""
    lines = block.split("\n")
    try:
        pairs = list(map(_split_header, lines))  # C speed on well-formed blocks
        headers = dict(pairs)
    except ValueError:
        headers = _parse_lines_slow(lines, strict)
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
        return parse_headers(block, strict=False)
    else:
        raw = block.replace("%", "=").encode("utf-8")
        decoded = a2b_qp(raw)
        if len(raw) - len(decoded) != 2 * block.count("%"):  # a '%' that was no escape
            return parse_headers(block, strict=False)
        text = decoded.decode("utf-8", "replace")
        if text.count("\n") != newlines:  # an encoded newline: never let it split
            return parse_headers(block, strict=False)
    parts = text.replace(": ", "\n").split("\n")
    if len(parts) != 2 * (newlines + 1):
        return parse_headers(block, strict=False)
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
            digits = raw[mark + 17:eol]
            if not (digits.isdigit() and len(digits) <= _MAX_LENGTH_DIGITS):  # bytes: ASCII only
                _bad_length(digits, "event body")
            length = int(digits)
            if length > len(raw) - start:
                raise ProtocolError(f"event body Content-Length {length} exceeds the "
                                    f"{len(raw) - start} bytes the message holds")
            event.body = raw[start:start + length].decode("utf-8", "replace")
            return event
    end = raw.find(b"\n\n") if mark >= 0 else len(raw.rstrip(b"\n"))
    if end < 0:
        end = len(raw.rstrip(b"\n"))
    return Event(raw=raw[:end].decode("utf-8", "replace"))


# A JSON string escape of a UTF-16 surrogate; json.loads leaves a lone one in the str,
# which no later .encode() survives.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_JSON_TYPE = {"NoneType": "null", "bool": "boolean", "int": "number", "float": "number",
              "list": "array", "dict": "object"}


def _clean_surrogates(value: str) -> str:
    return _LONE_SURROGATE.sub("\ufffd", value)


def _parse_json_event(raw: bytes) -> tuple[Event, dict]:
    # json.loads raises RecursionError (not ValueError) on deeply nested input, and
    # str() of a nested value that just fit can raise it again: both are the peer's
    # fault, so both are ProtocolError.
    try:
        obj = json.loads(raw)
        if not isinstance(obj, dict):
            raise ProtocolError("text/event-json body is not a JSON object")
        body = obj.get("_body", "")
        if not isinstance(body, str):
            raise ProtocolError(f"text/event-json _body is a JSON {_JSON_TYPE[type(body).__name__]}, "
                                "not a string")
        headers = {k: v if isinstance(v, str) else str(v) for k, v in obj.items() if k != "_body"}
    except RecursionError:
        raise ProtocolError("text/event-json body is nested too deeply") from None
    except ProtocolError:
        raise
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, int too long
        raise ProtocolError(f"text/event-json body is not JSON: {exc}") from None
    if b"\\u" in raw and _SURROGATE_ESCAPE.search(raw):  # plain events decode with "replace": so here
        headers = {_clean_surrogates(k): _clean_surrogates(v) for k, v in headers.items()}
        body = _clean_surrogates(body)
    return Event(headers, body), obj


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


_NO_CHUNKS: list[bytes] = []  # shared, never appended to: a body in progress gets its own list


class Parser:
    """Incremental framer: feed() any chunk of bytes, get the complete messages back.

    Any bytes give messages or ProtocolError, nothing else (tests/esl/test_esl_fuzz.py,
    `python -m fsapp.esl.fuzz`); after a ProtocolError the connection is dropped, the
    parser is not fed again.

    Work is linear in the bytes fed, however they are split (bench/esl_buffer.py): an
    unfinished head waits in a bytearray that reads are appended to, searched only from
    where the last search stopped; a body being received is a list of the reads, counted
    and joined once, when complete. What one connection can make fsapp hold is bounded: a
    head of at most MAX_HEAD_BYTES, a body of at most `max_frame_bytes` (a larger
    Content-Length is a ProtocolError before any of the body is buffered).
    """

    __slots__ = ("_buf", "_scan", "_head", "_need", "_chunks", "_have", "max_frame_bytes")

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES):
        if max_frame_bytes < 0:
            raise ValueError("max_frame_bytes must be >= 0")
        self.max_frame_bytes = max_frame_bytes
        # An unfinished head (and whatever followed it in its read); b"" when there is none,
        # so a parser costs no allocation until a message is split across reads.
        self._buf: bytes | bytearray = b""
        self._scan = 0           # where the search for its end goes on
        self._head: dict[str, str] | None = None  # parsed head waiting for its body
        self._need = 0                            # ... of this many bytes,
        self._chunks: list[bytes] = _NO_CHUNKS    # received so far in these reads,
        self._have = 0                            # this many bytes in all

    def feed(self, data: bytes) -> list[Message]:
        out: list[Message] = []
        if type(data) is not bytes:
            data = bytes(data)
        if self._head is not None:  # a body is arriving: count it, join it once
            self._chunks.append(data)
            self._have += len(data)
            if self._have < self._need:
                return out
            body, data = self._take_body()
            head, self._head = self._head, None
            out.append(Message(head, body))
        elif self._buf:  # a head is arriving: search only what is new
            pending = self._buf
            pending += data
            if pending.find(b"\n\n", self._scan) < 0:
                self._check_head_size(len(pending))
                self._scan = len(pending) - 1  # "\n\n" may straddle two reads
                return out
            data, self._buf = bytes(pending), b""
        # Frame every complete message in data (inline, not a method: this loop runs for
        # every message, and a call per read shows in bench/esl_parse.py).
        pos = 0
        size = len(data)
        while pos < size:
            end = data.find(b"\n\n", pos)
            if end < 0:
                self._check_head_size(size - pos)
                self._buf = bytearray(data[pos:])
                self._scan = size - pos - 1
                break
            if end == pos:  # stray blank line between messages: skip it
                pos += 1
                continue
            if end - pos > MAX_HEAD_BYTES:
                self._check_head_size(end - pos)
            head = _parse_head(data[pos:end])
            pos = end + 2
            length = head.get("Content-Length")
            if length is None:
                out.append(Message(head))
                continue
            if not (length.isdigit() and length.isascii() and len(length) <= _MAX_LENGTH_DIGITS):
                _bad_length(length, "message")
            need = int(length)
            if need > self.max_frame_bytes:
                raise ProtocolError(
                    f"Content-Length {need} exceeds the maximum frame of "
                    f"{self.max_frame_bytes} bytes ([esl] max_frame_bytes)")
            if size - pos < need:  # the body goes on in later reads
                self._head, self._need = head, need
                self._chunks, self._have = [data[pos:]], size - pos
                break
            out.append(Message(head, data[pos:pos + need]))
            pos += need
        return out

    def _take_body(self) -> tuple[bytes, bytes]:
        """The complete body out of the chunks, and what came after it."""
        chunks, over = self._chunks, self._have - self._need
        rest = b""
        if over:
            last = chunks[-1]
            rest = last[len(last) - over:]
            chunks[-1] = last[:len(last) - over]
        self._chunks, self._have = _NO_CHUNKS, 0
        return b"".join(chunks), rest  # join of one bytes object is that object: no copy

    @staticmethod
    def _check_head_size(size: int) -> None:
        if size > MAX_HEAD_BYTES:
            raise ProtocolError(f"no end of headers within {MAX_HEAD_BYTES} bytes")

    @property
    def pending_bytes(self) -> int:
        return len(self._buf) + self._have


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
