"""FreeSWITCH's own string rules, ported from its C source (1.10), so the emulator reads
what a client sends exactly as a real switch would:

* switch_utils.c: `switch_separate_string` (a leading `^^X` picks X as the delimiter),
  `separate_string_blank_delim` / `separate_string_char_delim` (a backslash protects the
  next character, single quotes group), `cleanup_separated_string` (strips the quotes,
  the spaces around a token, and unescapes `\\'` `\\"` `\\\\` `\\<delim>` `\\n` `\\r` `\\t`
  `\\s`), `switch_find_end_paren` (counts brackets, knows no quoting);
* switch_event.c: `switch_event_create_brackets` (`{a=b,c=d}` blocks: split on `,`, then
  each on the first `=`);
* switch_ivr_originate.c: `:_:` anywhere means enterprise originate, `|` separates
  failover groups, `,` simultaneous legs, `[..]` per-leg variables;
* switch_channel.c: `switch_channel_expand_variables_check` (`${var}`, `$${global}`,
  `${api args}`, with `\\$` `\\\\` `\\'` escapes, run only when the text has a `${` or
  escaped data) and `switch_string_var_check_const` (what `var_check` refuses).

Pure functions on str; a C NUL ends a string, so callers cut at one first.
"""
from __future__ import annotations

from typing import Callable

ESCAPE_META = "\\"
ENTERPRISE_DELIM = ":_:"
_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "s": " "}


def c_string(text: str) -> str:
    """What C sees of a Python string: everything up to the first NUL."""
    return text.split("\0", 1)[0]


def cleanup_separated_string(token: str, delim: str = "") -> str:
    i, n = 0, len(token)
    while i < n and token[i] == " ":
        i += 1
    out: list[str] = []
    end: int | None = None
    inside = False
    while i < n:
        ch = token[i]
        escaped = False
        if ch == ESCAPE_META and i + 1 < n:
            e = token[i + 1]
            if e in ("'", '"', ESCAPE_META) or (delim and e == delim):
                pass
            elif e in _UNESCAPE:
                e = _UNESCAPE[e]
            else:
                e = None
            if e is not None:
                i += 1
                out.append(e)
                end = len(out)
                escaped = True
        if not escaped:
            if ch == "'" and (inside or "'" in token[i + 1:]):
                inside = not inside
                if inside:
                    end = len(out)
            else:
                out.append(ch)
                if ch != " " or inside:
                    end = len(out)
        i += 1
    return "".join(out[:end] if end is not None else out)


def _char_delim(buf: str, delim: str, arraylen: int) -> list[str]:
    cuts: list[tuple[int, int]] = []
    start: int | None = None
    i, n, inside = 0, len(buf), False
    while i < n:
        if start is None:          # START: a token begins here
            start = i
            continue
        ch = buf[i]
        if ch == ESCAPE_META:
            i += 1
        elif ch == "'" and (inside or "'" in buf[i + 1:]):
            inside = not inside
        elif ch == delim and not inside and len(cuts) + 1 < arraylen:
            cuts.append((start, i))
            start = None
        i += 1
    if start is not None:
        cuts.append((start, n))
    return [cleanup_separated_string(buf[a:b], delim) for a, b in cuts]


def _blank_delim(buf: str, arraylen: int) -> list[str]:
    cuts: list[tuple[int, int]] = []
    start: int | None = None
    i, n, inside = 0, len(buf), False
    state = "start"
    while i < n:
        if state == "start":
            if len(cuts) >= arraylen:
                break
            start, state = i, "skip_initial"
        elif state == "skip_initial":
            if buf[i] == " ":
                i += 1
            else:
                state = "find"
        elif state == "find":
            ch = buf[i]
            if ch == ESCAPE_META:
                i += 1
            elif ch == "'":
                inside = not inside
            elif ch == " " and not inside and len(cuts) + 1 < arraylen:
                cuts.append((start, i))
                start, state = None, "skip_end"
            i += 1
        else:  # skip_end
            if buf[i] == " ":
                i += 1
            else:
                state = "start"
    if start is not None:
        cuts.append((start, n))
    return [cleanup_separated_string(buf[a:b], "") for a, b in cuts]


def separate_string(buf: str, delim: str, arraylen: int = 1024) -> list[str]:
    """switch_separate_string: tokens, unquoted and unescaped. In C the last slot takes
    the rest of the line once arraylen-1 tokens were cut."""
    if len(buf) >= 4 and buf.startswith("^^"):
        delim, buf = buf[2], buf[3:]
    return _blank_delim(buf, arraylen) if delim == " " else _char_delim(buf, delim, arraylen)


def find_end_paren(s: str, open_: str, close: str, start: int = 0) -> int | None:
    """switch_find_end_paren: index of the bracket closing the one at `start` (after
    spaces); brackets are counted, quotes and backslashes mean nothing here."""
    i = start
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s) or s[i] != open_:
        return None
    depth = 1
    for j in range(i + 1, len(s)):
        if s[j] == open_ and open_ != close:
            depth += 1
        elif s[j] == close:
            depth -= 1
            if not depth:
                return j
    return None


def create_brackets(data: str, open_: str, close: str, sep: str = ",") -> tuple[list[tuple[str, str]], str] | None:
    """switch_event_create_brackets for one leading block: ([(name, value)...], the text
    after the block) or None on a parse error (no closing bracket)."""
    end = find_end_paren(data, open_, close)
    if end is None:
        return None
    body = data[data.index(open_) + 1:end]
    if body.startswith("^^") and len(body) >= 3:
        sep, body = body[2], body[3:]
    pairs = []
    for var in separate_string(body, sep):
        inner = separate_string(var, "=", 2)
        if len(inner) == 2:
            pairs.append((inner[0], inner[1]))
    return pairs, data[end + 1:]


def var_check_const(value: str) -> bool:
    """switch_string_var_check_const: a `$` then (backslashes and) `{`: what var_check
    refuses to set as a channel variable."""
    dollar = False
    for ch in value:
        if ch == "$":
            dollar = True
        elif dollar:
            if ch == "{":
                return True
            if ch != "\\":
                dollar = False
    return False


def has_escaped_data(value: str) -> bool:
    """switch_string_has_escaped_data: a backslash before \\, n, s, t or a quote."""
    i = value.find("\\")
    while i != -1 and i + 1 < len(value):
        if value[i + 1] in "\\nst'":
            return True
        i = value.find("\\", i + 1)
    return False


def expand_variables(text: str, lookup: Callable[[str], str | None],
                     api: Callable[[str, str], str] | None = None, depth: int = 0) -> str:
    """switch_channel_expand_variables_check: `${name}` from the channel, `$${name}` the
    global, `${cmd args}` / `${cmd(args)}` an API call (api(cmd, args); without one, ''),
    `\\$` a literal dollar, `\\\\` a backslash, `\\'` nothing. Text with no `${` and no
    escaped data is returned as it is (backslashes included)."""
    if depth > 100 or not text or not (var_check_const(text) or has_escaped_data(text)):
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        literal = False
        if ch == "\\" and i + 1 < n:
            nxt = text[i + 1]
            if nxt == "$":
                literal = True
                i += 1
                if i + 1 < n and text[i + 1] == "$":
                    i += 1
            elif nxt == "'":
                i += 2
                continue
            elif nxt == "\\":
                out.append("\\")
                i += 2
                continue
        glob = False
        if not literal and text[i] == "$":
            if i + 1 < n and text[i + 1] == "$":
                i += 1
                glob = True
            if i + 1 < n and text[i + 1] == "{":
                close = _closing_brace(text, i + 2)
                name = text[i + 2:close]
                i = close + 1
                out.append(_substitute(name, glob, lookup, api, depth))
                continue
            literal = True
        out.append(text[i])
        i += 1
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    for j in range(start, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if not depth:
                return j
    return len(text)


def _substitute(name: str, glob: bool, lookup, api, depth: int) -> str:
    name = expand_variables(name, lookup, api, depth + 1)
    for k, ch in enumerate(name):
        if ch == "(":              # ${var(offset,length)}: a substring of a variable
            name = name[:k]
            break
        if ch == " ":              # ${cmd args}: the output of an API command
            return (api(name[:k], name[k + 1:]) if api is not None else "") or ""
    value = lookup(("$$" if glob else "") + name)
    return value or ""


QUOTED_ESC_COMMA, UNQUOTED_ESC_COMMA = "\x01", "\x02"


def mark_leg_commas(text: str) -> str:
    """switch_ivr_originate's pre-pass over a failover group: a comma inside a `[..]`
    block (not after a backslash) is not a leg separator; quoted ones (or in a `[^^..]`
    block) stay commas in the value, the others separate that block's variables."""
    out = list(text)
    end: int | None = None
    quoted = alt = False
    for p, ch in enumerate(text):
        if end is None and ch == "[":
            end = find_end_paren(text, "[", "]", p)
            alt = text[p + 1:p + 3] == "^^"
            quoted = False
        if ch == "'":
            quoted = not quoted
        if end is not None and p < end and ch == "," and p > 0 and text[p - 1] != "\\":
            out[p] = QUOTED_ESC_COMMA if (quoted or alt) else UNQUOTED_ESC_COMMA
        if p == end:
            end = None
    return "".join(out)


def split_legs(dial: str) -> list[list[str]]:
    """A dial string (its `{}`/`<>` blocks removed) as failover groups (`|`) of
    simultaneous legs (`,`), each leg still with its `[..]` block."""
    groups = []
    for alternative in separate_string(dial, "|"):
        legs = [leg for leg in separate_string(mark_leg_commas(alternative), ",") if leg.strip()]
        if legs:
            groups.append(legs)
    return groups


def leg_vars(leg: str) -> tuple[list[tuple[str, str]], str] | None:
    """The `[..]` blocks in front of one leg: ([(name, value)], endpoint) or None on a
    parse error."""
    pairs: list[tuple[str, str]] = []
    leg = leg.lstrip(" ")
    while leg[:1] == "[":
        end = find_end_paren(leg, "[", "]")
        if end is None:
            return None
        leg = leg[:end].replace(QUOTED_ESC_COMMA, ",") + leg[end:]
        parsed = create_brackets(leg, "[", "]", UNQUOTED_ESC_COMMA)
        if parsed is None:
            return None
        more, leg = parsed
        pairs += more
    return pairs, leg


def originate_legs(dial: str) -> list[str]:
    """Every leg a dial string (after its `{}`/`<>` blocks) asks for: `:_:`
    (enterprise), `|` (failover) and `,` (simultaneous) each add one."""
    return [leg.replace(UNQUOTED_ESC_COMMA, ",").replace(QUOTED_ESC_COMMA, ",")
            for group in dial.split(ENTERPRISE_DELIM) for legs in split_legs(group) for leg in legs]


def switch_true(value) -> bool:
    """switch_true(): what FreeSWITCH accepts as a true channel variable."""
    return str(value or "").strip().lower() in ("true", "t", "yes", "on", "enabled", "active", "allow") or \
        (str(value or "").strip().isdigit() and int(value) > 0)
