"""The one place where values become FreeSWITCH syntax.

Every originate variable block, dial string, `sendmsg` execute argument, `api`/`bgapi`
argument and `sendevent` header fsapp sends is built here. Each value is either escaped
by FreeSWITCH's own rules, so that the switch reads back exactly the value given, or
refused with `UnsafeValue(field, value, why)`. The rules (FreeSWITCH 1.10 source; the
emulator's fsapp/sim/fsstrings.py is a port of them and the tests check the two agree):

* `originate <url> <target>`: mod_commands splits its argument on spaces
  (switch_separate_string: a backslash protects the next character, single quotes group,
  then `\\'` `\\"` `\\\\` `\\n` `\\r` `\\t` `\\s` are unescaped and quotes stripped).
* A `{a=b,c=d}` / `<a=b>` block (switch_event_create_brackets): the closing bracket is
  found by counting brackets, blind to quotes and backslashes, so a value may not
  contain the block's brackets; the body is split on `,`, each part on its first `=`,
  and both splits unescape again. `:_:` anywhere in the url makes it an enterprise
  originate, so it is refused everywhere. A value with `${` is refused by the switch
  itself (var_check), so it is refused here too.
* A `sendmsg` execute argument is expanded by the channel before the application runs
  (`${var}`, `${api args}`), and `set` expands its value once more: literal values are
  escaped with `\\$` and `\\\\` once per expansion. A CR or LF cannot be in a header line:
  such an argument goes in the body (`content-type: text/plain`), which mod_event_socket
  reads by Content-Length.
* `sendevent` headers and api command lines are one line each: CR, LF and NUL are refused;
  so is a `%XX` (upper-case hex) in a sendevent header: switch_url_encode keeps such a
  sequence when it writes the event, so a listener would decode it into something else.

A NUL ends a C string wherever it is, so it is refused everywhere. See docs/esl.md,
"Caller data and FreeSWITCH syntax".
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from fsapp.esl import wire

BRACKETS = {"{": "}", "<": ">", "[": "]"}
ENTERPRISE_DELIM = ":_:"
VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*(?::[A-Za-z0-9_.\-]+)?\Z")
APP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
UUID = re.compile(r"[0-9A-Za-z][0-9A-Za-z\-]{0,63}\Z")
HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*\Z")
# In a dial string (one leg): these split it into more legs or open a variable block.
DIAL_STRUCTURE = set(",|{}[]<>'\"\\ ")
# A [..] per-leg block is split several times with different escapes (| then , then its
# own separator); values there are kept to characters no split reads.
LEG_VALUE_REFUSED = set("\\'\",|[]{}<>$^ ")
# Applications whose argument is `name=value` and that expand the value once more
# (mod_dptools base_set) after the channel expanded the whole argument.
SET_APPS = frozenset({"set", "push", "unshift"})


class UnsafeValue(ValueError):
    """A value that cannot be sent to FreeSWITCH without becoming syntax."""

    def __init__(self, field: str, value, why: str):
        self.field, self.value, self.why = field, value, why
        shown = repr(value if len(str(value)) <= 80 else str(value)[:77] + "...")
        super().__init__(f"{field}: {shown} {why}")


# ---- checks ---------------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_VAR_REF = re.compile(r"\$\\*\{")
_ESCAPED_DATA = re.compile(r"\\[\\nst']")


def _control(text: str) -> str | None:
    m = _CONTROL.search(text)
    if m is None:
        return None
    if "\0" in text:
        return "contains a NUL byte (it would end the string on the switch)"
    if "\r" in text or "\n" in text:
        return "contains a newline (CR or LF would end the ESL header line)"
    return f"contains the control character {m.group(0)!r}"


_SPACE = re.compile(r"\s")    # in a str pattern exactly str.isspace() (both Py_UNICODE_ISSPACE)


def _refuse_control(field: str, value: str) -> None:
    why = _control(value)
    if why:
        raise UnsafeValue(field, value, why)


def _has_var_ref(value: str) -> bool:
    """switch_string_var_check_const: `$`, then backslashes, then `{`."""
    return "$" in value and _VAR_REF.search(value) is not None


def _has_escaped_data(value: str) -> bool:
    """switch_string_has_escaped_data: a backslash before \\, n, s, t or a quote."""
    return "\\" in value and _ESCAPED_DATA.search(value) is not None


def name(field: str, value) -> str:
    """A channel variable name."""
    text = str(value)
    if not VAR_NAME.match(text) or ENTERPRISE_DELIM in text:
        raise UnsafeValue(field, text, "is not a variable name (letters, digits, _ . -; e.g. fsapp_queue)")
    return text


def word(field: str, value) -> str:
    """One space-free positional argument of an application or api command."""
    text = str(value)
    _refuse_control(field, text)
    if not text or _SPACE.search(text):
        raise UnsafeValue(field, text, "must be one non-empty word without spaces")
    return text


def uuid(field: str, value) -> str:
    text = str(value)
    if not UUID.match(text):
        raise UnsafeValue(field, text, "is not a channel uuid")
    return text


# ---- values as FreeSWITCH reads them ------------------------------------------------------------
_NEEDS_ESCAPE = re.compile(r"[\\' ,]")


def _escape(text: str, table: dict[int, str]) -> str:
    # most values (uuids, numbers, names of things) have nothing to escape
    return text.translate(table) if _NEEDS_ESCAPE.search(text) else text


# cleanup_separated_string(.., '='): backslash, quote and the spaces it would trim
_EQ = str.maketrans({"\\": "\\\\", "'": "\\'", " ": "\\s"})
# separate_string_char_delim(.., ',') + cleanup(.., ','): backslash, quote, the separator
_COMMA = str.maketrans({"\\": "\\\\", "'": "\\'", ",": "\\,"})
# separate_string_blank_delim + cleanup(.., 0): backslash, quote (spaces are \s already)
_BLANK = str.maketrans({"\\": "\\\\", "'": "\\'", " ": "\\s"})


def _block_value(key: str, value: str, open_: str) -> str:
    field = f"originate variable {key}"
    _refuse_control(field, value)
    if _has_var_ref(value):
        raise UnsafeValue(field, value, "contains '${': FreeSWITCH refuses to set such a value (var_check)")
    if open_ in value or BRACKETS[open_] in value:
        raise UnsafeValue(field, value, f"contains {open_} or {BRACKETS[open_]}: FreeSWITCH finds the end of "
                                        f"a {open_}..{BRACKETS[open_]} block by counting them, escaped or not")
    if ENTERPRISE_DELIM in value:
        raise UnsafeValue(field, value, "contains ':_:', which makes any originate an enterprise originate")
    if open_ == "[":
        bad = sorted(set(value) & LEG_VALUE_REFUSED)
        if bad:
            raise UnsafeValue(field, value, f"contains {''.join(bad)!r}, which a [..] per-leg block cannot carry; "
                                            f"use the {{..}} block")
        return value
    return _escape(_escape(value, _EQ), _COMMA)


def var_block(variables: Mapping[str, object] | None, brackets: str = "{") -> str:
    """`{a=b,c=d}` (all legs), `<a=b>` (enterprise, all groups) or `[a=b]` (one leg),
    each value escaped so switch_event_create_brackets reads it back exactly. An empty
    value (or None) is left out: the switch sets nothing for `name=` either."""
    if brackets not in BRACKETS:
        raise ValueError(f"brackets must be one of {', '.join(BRACKETS)}")
    if not variables:
        return ""
    parts = []
    for key, value in variables.items():
        key = name("originate variable", key)
        text = "" if value is None else str(value)
        if not text:
            continue
        parts.append(f"{key}={_block_value(key, text, brackets)}")
    return brackets + ",".join(parts) + BRACKETS[brackets] if parts else ""


def dial_string(value, field: str = "dial string") -> str:
    """One leg's dial string (`user/1001`, `sofia/gateway/pstn/95598`, `loopback/9999/default`):
    nothing that adds legs (`,` `|` `:_:`), opens a variable block or quotes."""
    text = str(value)
    _refuse_control(field, text)
    bad = sorted(set(text) & DIAL_STRUCTURE)
    if not text or bad or ENTERPRISE_DELIM in text or "/" not in text:
        why = (f"contains {''.join(bad)!r}" if bad else "contains ':_:'" if ENTERPRISE_DELIM in text
               else "is not endpoint/destination")
        raise UnsafeValue(field, text, f"{why}: give one leg such as user/1001 (variables go in the "
                                       f"variables mapping)")
    return text


def number(value, field: str = "number") -> str:
    """A phone number to dial: + and digits, * and #, at most 32."""
    text = str(value)
    if not re.fullmatch(r"\+?[0-9*#]{1,32}", text):
        raise UnsafeValue(field, text, "is not a phone number (+, digits, * and #; at most 32)")
    return text


def api_arg(value, field: str = "api argument") -> str:
    """One argument of an api command split on spaces (switch_separate_string ' ')."""
    text = str(value)
    _refuse_control(field, text)
    return _escape(text, _BLANK)


def api_command(verb: str, *args) -> str:
    """`uuid_setvar <uuid> <name> <value>`: each argument escaped so the command's own
    space split gives it back; the line never carries a line break."""
    if not APP_NAME.match(verb):
        raise UnsafeValue("api command", verb, "is not a command name")
    return " ".join([verb, *(api_arg(a, f"{verb} argument") for a in args)])


def originate_command(dial: str, target: str = "&park", variables: Mapping[str, object] | None = None) -> str:
    """`originate {vars}<dial> <target>` for api/bgapi; target '&app' / '&app(args)' /
    'EXTENSION [DIALPLAN [CONTEXT]]' (words). An application argument may hold single
    spaces (`&socket(127.0.0.1:8085 async full)`): they are sent as `\\s`, which
    mod_commands' space split gives back, so the target stays one argument."""
    url = var_block(variables) + dial_string(dial)
    target = str(target)
    if target.startswith("&"):
        m = re.fullmatch(r"&([A-Za-z_][A-Za-z0-9_]*)(?:\(([^()\s'\\,|{}$]+(?: [^()\s'\\,|{}$]+)*)\))?", target)
        if not m:
            raise UnsafeValue("originate application", target,
                              "must be &app or &app(argument words separated by single spaces)")
        return f"originate {api_arg(url, 'originate url')} {api_arg(target, 'originate application')}"
    else:
        for part in target.split(" "):
            word("originate extension", part)
    return f"originate {api_arg(url, 'originate url')} {target}"


def app_target(app: str, arg: str | None = None) -> str:
    """`&eavesdrop(<uuid>)` for originate's second argument."""
    if not APP_NAME.match(app):
        raise UnsafeValue("application", app, "is not an application name")
    if arg is None:
        return f"&{app}"
    arg = word(f"{app} argument", arg)
    if any(c in arg for c in "()'\\,|{}"):
        raise UnsafeValue(f"{app} argument", arg, "contains brackets, quotes or separators")
    return f"&{app}({arg})"


def bridge_arg(dial: str, variables: Mapping[str, object] | None = None) -> str:
    """The argument of the bridge application: `{vars}<dial>`. The channel expands it
    before switch_ivr_originate reads the block, so when the whole argument would be
    expanded (the dial string may use `${...}` on purpose) the block is escaped for it."""
    block, dial = var_block(variables), dial_string(dial)
    if block and (_has_var_ref(block + dial) or _has_escaped_data(block + dial)):
        block = block.replace("\\", "\\\\").replace("$", "\\$")
    return block + dial


def literal(value, expansions: int = 1) -> str:
    """Text that `expansions` rounds of switch_channel_expand_variables turn back into
    `value` exactly: `\\$` for each dollar and `\\\\` for each backslash, but only when
    the text would be expanded at all (a `${` or escaped data), since otherwise the
    switch leaves it, backslashes included, untouched."""
    text = str(value)
    for _ in range(expansions):
        if _has_var_ref(text) or _has_escaped_data(text):
            text = text.replace("\\", "\\\\").replace("$", "\\$")
    return text


def set_arg(var: str, value) -> str:
    """`name=value` for set/push/unshift: the channel expands the argument, then set
    expands the value again."""
    return f"{name('variable name', var)}={literal(value, expansions=2)}"


def export_arg(var: str, value) -> str:
    """`name=value` for export (expanded once, by the channel)."""
    return f"{name('variable name', var)}={literal(value)}"


# An argument longer than this travels as the message body. mod_event_socket reads a
# command's head with one recv() of ONE byte per byte (read_packet), followed by a
# sched_yield, and a Content-Length body with one recv(): measured on FreeSWITCH 1.10.12,
# 400 more head bytes cost it 0.6 ms of CPU per command. The body form costs a fixed
# `content-type: text/plain` + `Content-Length: N` (about 45 head bytes) instead of
# `execute-app-arg: ` (18), so it pays from about 30 bytes of argument on.
ARG_BODY_MIN = 30


def sendmsg_execute(app: str, arg: str | None = None, *, event_uuid: str | None = None,
                    event_lock: bool = True, uuid_: str | None = None) -> bytes:
    """The `sendmsg` frame that runs one application. `arg` is FreeSWITCH syntax (build
    its untrusted parts with literal()/set_arg()); one with a line break, or longer than
    ARG_BODY_MIN, travels as the message body (content-type text/plain, read by
    Content-Length: switch_ivr.c takes the body when execute-app-arg is absent)."""
    if not APP_NAME.match(str(app)):
        raise UnsafeValue("application", app, "is not an application name")
    headers = {"call-command": "execute", "execute-app-name": app}
    body = None
    if arg:
        if "\0" in arg:
            raise UnsafeValue(f"{app} argument", arg, "contains a NUL byte (it would end the string on the switch)")
        if arg[:1] == "%" and "[" in arg[1:3]:
            raise UnsafeValue(f"{app} argument", arg, "starts like a %[var=value] block, which the switch "
                                                      "would read as variables")
        if len(arg) > ARG_BODY_MIN or "\r" in arg or "\n" in arg:
            headers["content-type"] = "text/plain"
            body = arg
        else:
            headers["execute-app-arg"] = arg
    if event_lock:
        headers["event-lock"] = "true"
    if event_uuid:
        headers["Event-UUID"] = uuid("Event-UUID", event_uuid)
    command = f"sendmsg {uuid('sendmsg uuid', uuid_)}" if uuid_ else "sendmsg"
    return wire.encode_command(command, headers, body)


def event_headers(event_name: str, headers: Mapping[str, object]) -> dict[str, str]:
    """Headers of a `sendevent`: names are words, values one line each. FreeSWITCH
    reads a header line up to CR or LF and drops the spaces after the colon, so a value
    with a line break or a leading space cannot be carried: it is refused (send such
    text as the event body)."""
    out: dict[str, str] = {}
    for key, value in (headers or {}).items():
        key = str(key)
        if not HEADER_NAME.match(key):
            raise UnsafeValue(f"sendevent {event_name} header name", key, "is not a header name")
        if key.lower() == "content-length":
            raise UnsafeValue(f"sendevent {event_name} header", key, "is set from the body; do not pass it")
        text = "" if value is None else str(value)
        why = _control(text)
        if why:
            raise UnsafeValue(f"sendevent {event_name} header {key}", text, why + "; send multi-line text as "
                                                                              "the body")
        if text[:1] == " ":
            raise UnsafeValue(f"sendevent {event_name} header {key}", text, "starts with a space, which "
                                                                          "FreeSWITCH drops")
        if re.search(r"%[0-9A-F]{2}", text):
            raise UnsafeValue(f"sendevent {event_name} header {key}", text,
                              "contains a %XX sequence, which FreeSWITCH's url encoding of the event leaves "
                              "as it is, so listeners would decode it")
        out[key] = text
    return out
