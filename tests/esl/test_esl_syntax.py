"""fsapp.esl.syntax against FreeSWITCH's own rules (the port in fsapp/sim/fsstrings.py,
checked here against cases worked out by hand from switch_utils.c): whatever the value,
the switch reads back exactly that value, or the builder refuses it with UnsafeValue."""
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fsapp.esl import syntax
from fsapp.esl.syntax import UnsafeValue
from fsapp.sim import fsstrings as fs
from tests.hostile import HOSTILE


# ---- the port reads FreeSWITCH's documented forms the way the C code does -----------------------
@pytest.mark.parametrize("text, delim, tokens", [
    ("originate {a=b}user/1 &park", " ", ["originate", "{a=b}user/1", "&park"]),
    ("a\\,b,c", ",", ["a,b", "c"]),                      # \, is a literal comma
    ("'a,b',c", ",", ["a,b", "c"]),                      # quotes group and are stripped
    ("^^:a,b:c", ",", ["a,b", "c"]),                     # ^^X picks another separator
    ("  a  ", ",", ["a"]),                               # spaces around a token go
    ("a\\sb", " ", ["a b"]),                             # \s is a space
    ("x=y=z", "=", ["x", "y=z"]),
    ("{a='x y'}user/1 &park", " ", ["{a=x y}user/1", "&park"]),   # quotes group, then go
    ("a\\ b", " ", ["a\\ b"]),                                    # backslash-space: not split, kept
    ("it's", ",", ["it's"]),                             # a lone quote is a character
])
def test_port_splits_like_switch_separate_string(text, delim, tokens):
    assert fs.separate_string(text, delim, 2 if delim == "=" else 1024) == tokens


def test_port_expands_like_the_channel():
    chan = {"x": "X"}
    assert fs.expand_variables("a ${x} \\${x} $${x}", chan.get) == "a X ${x} "
    assert fs.expand_variables("${x} $$y \\\\ \\'", chan.get) == "X $y \\ "   # $$ not before { loses one $
    assert fs.expand_variables("no vars \\d", chan.get) == "no vars \\d"   # nothing to expand: as is
    called = []
    fs.expand_variables("${system rm -rf /}", chan.get, lambda c, a: called.append((c, a)))
    assert called == [("system", "rm -rf /")]


def test_the_reported_caller_id_was_syntax_with_the_old_builder():
    """The defect of issue 10: only commas were escaped, so this caller id closed the
    block and added a second leg bridged to an international number."""
    hostile = HOSTILE[0]
    old = "{origination_caller_id_number=" + hostile.replace(",", "\\,") + "}user/1001"
    url = fs.separate_string(f"originate {old} &park", " ")[1]
    pairs, rest = fs.create_brackets(url, "{", "}")
    assert pairs == [("origination_caller_id_number", "1")]
    assert rest.startswith("loopback/9999/default")


# ---- the builder: exact value back, or refused -------------------------------------------------
def originate_reads(cmd: str) -> tuple[dict, list[str], str]:
    """What mod_commands + switch_ivr_originate read from an `originate` api command."""
    assert cmd.startswith("originate ")
    argv = fs.separate_string(cmd[len("originate "):], " ", 10)
    url = argv[0]
    assert fs.ENTERPRISE_DELIM not in url
    pairs, rest = fs.create_brackets(url, "{", "}")
    return dict(pairs), fs.originate_legs(rest), argv[1]


VALUES = st.text(st.characters(codec="utf-8"), max_size=60) | st.sampled_from(HOSTILE)


@settings(max_examples=1500, deadline=None)
@given(value=VALUES)
@example("O'Brien, J")
def test_any_originate_value_reads_back_exactly_or_is_refused(value):
    try:
        cmd = syntax.originate_command("user/1001", "&park", {"origination_caller_id_name": value, "b": "2"})
    except UnsafeValue as exc:
        assert exc.field == "originate variable origination_caller_id_name" and exc.value == value
        return
    assert "\n" not in cmd and "\r" not in cmd and "\0" not in cmd
    variables, legs, target = originate_reads(cmd)
    assert variables == ({"origination_caller_id_name": value} if value else {}) | {"b": "2"}
    assert not fs.var_check_const(value)            # the switch would set it (var_check)
    assert legs == ["user/1001"] and target == "&park"


@settings(max_examples=800, deadline=None)
@given(value=VALUES, brackets=st.sampled_from(["{", "<"]))
def test_any_block_value_reads_back_through_create_brackets(value, brackets):
    try:
        block = syntax.var_block({"v": value}, brackets)
    except UnsafeValue:
        return
    if not block:
        assert value == ""
        return
    pairs, rest = fs.create_brackets(block + "user/1", brackets, syntax.BRACKETS[brackets])
    assert pairs == ([("v", value)] if value else []) and rest == "user/1"


@settings(max_examples=800, deadline=None)
@given(value=VALUES)
def test_set_and_export_values_survive_expansion(value):
    """set: the channel expands the argument, then set expands the value again."""
    try:
        set_arg = syntax.set_arg("fsapp_x", value)
    except UnsafeValue:
        return
    channel = {"x": "EXPANDED"}.get
    api_calls = []
    api = lambda c, a: api_calls.append(c) or "API"   # noqa: E731
    once = fs.expand_variables(set_arg, channel, api)
    name, _, raw = once.partition("=")
    assert name == "fsapp_x" and fs.expand_variables(raw, channel, api) == value
    exported = fs.expand_variables(syntax.export_arg("fsapp_x", value), channel, api)
    assert exported == f"fsapp_x={value}"
    assert fs.expand_variables(syntax.literal(value), channel, api) == value
    assert api_calls == []


@settings(max_examples=800, deadline=None)
@given(value=VALUES)
def test_api_arguments_survive_the_space_split(value):
    try:
        cmd = syntax.api_command("uuid_setvar", "0d2b3f4e-1111-2222-3333-444455556666", "fsapp_x", value)
    except UnsafeValue:
        assert fs.c_string(value) != value or any(c in value for c in "\r\n") or any(
            ord(c) < 32 or ord(c) == 127 for c in value)
        return
    args = fs.separate_string(cmd[len("uuid_setvar "):], " ", 3)
    assert args[:2] == ["0d2b3f4e-1111-2222-3333-444455556666", "fsapp_x"]
    assert (args[2] if len(args) > 2 else "") == value


@pytest.mark.parametrize("value", HOSTILE)
def test_bridge_argument_gives_one_leg_and_the_literal_value(value):
    try:
        arg = syntax.bridge_arg("user/1001", {"fsapp_note": value})
    except UnsafeValue:
        return
    expanded = fs.expand_variables(arg, {}.get, lambda c, a: pytest.fail(f"api {c} ran"))
    pairs, rest = fs.create_brackets(expanded, "{", "}")
    assert pairs == [("fsapp_note", value)] and fs.originate_legs(rest) == ["user/1001"]


@pytest.mark.parametrize("value, why", [
    ("a}b", "contains { or }"), ("x:_:y", ":_:"), ("${x}", "var_check"), ("a\nb", "newline"),
    ("a\0b", "NUL"), ("\x07", "control character"),
])
def test_refused_block_values_say_why(value, why):
    with pytest.raises(UnsafeValue, match=why) as info:
        syntax.var_block({"origination_caller_id_number": value})
    assert info.value.field == "originate variable origination_caller_id_number"


@pytest.mark.parametrize("dial", ["user/1001,user/1002", "user/1001|user/1002", "a:_:b", "{a=b}user/1",
                                  "user/1 &park", "user/1'", "nodestination", ""])
def test_dial_strings_are_one_leg(dial):
    with pytest.raises(UnsafeValue):
        syntax.dial_string(dial)


def test_leg_block_is_conservative():
    assert syntax.var_block({"a": "1001@example.com"}, "[") == "[a=1001@example.com]"
    with pytest.raises(UnsafeValue, match=r"\[..\] per-leg block"):
        syntax.var_block({"a": "x,y"}, "[")


def test_sendmsg_moves_a_multiline_argument_to_the_body():
    frame = syntax.sendmsg_execute("set", syntax.set_arg("fsapp_x", "a\nb"), event_uuid="0d2b3f4e-1111")
    head, _, body = frame.partition(b"\n\n")
    assert b"execute-app-arg" not in head and b"content-type: text/plain" in head
    assert b"Content-Length: 11" in head and body == "fsapp_x=a\nb".encode()
    with pytest.raises(UnsafeValue, match="NUL"):
        syntax.sendmsg_execute("set", "x=a\0b")
    with pytest.raises(UnsafeValue, match="%\\[var=value\\]"):
        syntax.sendmsg_execute("playback", "%[a=b]file.wav")


def test_a_long_argument_travels_as_the_body_a_short_one_as_a_header():
    """mod_event_socket reads a command's head one byte per recv() and its body in one:
    an argument longer than ARG_BODY_MIN goes in the body (switch_ivr.c reads it there
    when execute-app-arg is absent; capture outbound_pipelined_body_arg, on FreeSWITCH
    1.10.12). The frame is exactly this, and shorter than the header form's head."""
    short = "x" * syntax.ARG_BODY_MIN
    assert syntax.sendmsg_execute("playback", short) == (
        b"sendmsg\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: " + short.encode()
        + b"\nevent-lock: true\n\n")
    long = "1 1 1 3000 # tone_stream://%(100,0,600) silence_stream://250 bench_digit \\d 3000"
    frame = syntax.sendmsg_execute("play_and_get_digits", long, event_uuid="0d2b3f4e-1111")
    assert frame == (b"sendmsg\ncall-command: execute\nexecute-app-name: play_and_get_digits\n"
                     b"content-type: text/plain\nevent-lock: true\nEvent-UUID: 0d2b3f4e-1111\n"
                     b"Content-Length: " + str(len(long)).encode() + b"\n\n" + long.encode())
    head = frame.partition(b"\n\n")[0]
    assert len(head) < len(b"sendmsg\ncall-command: execute\nexecute-app-name: play_and_get_digits\n"
                           b"execute-app-arg: " + long.encode() + b"\nevent-lock: true\nEvent-UUID: 0d2b3f4e-1111")


def test_sendevent_headers_are_one_line_each():
    assert syntax.event_headers("CUSTOM", {"Caller-ID": "张伟 ${x}", "Agent": ""}) == \
        {"Caller-ID": "张伟 ${x}", "Agent": ""}
    for bad in ("a\r\nEvent-Name: HEARTBEAT", "a\0", " lead"):
        with pytest.raises(UnsafeValue, match="Caller-ID"):
            syntax.event_headers("CUSTOM", {"Caller-ID": bad})
    with pytest.raises(UnsafeValue, match="header name"):
        syntax.event_headers("CUSTOM", {"Bad Name": "x"})


def test_originate_application_argument_with_spaces_stays_one_argument():
    """`&socket(HOST:PORT async full)` (outbound campaigns): mod_commands splits originate's
    argument on spaces, so the spaces travel as \\s and the split gives the target back whole."""
    from fsapp.sim import fsstrings
    cmd = syntax.originate_command("sofia/gateway/gw1/13900000001", "&socket(127.0.0.1:8085 async full)",
                                   {"origination_uuid": "u-1"})
    argv = fsstrings.separate_string(cmd[len("originate "):], " ", 10)
    assert argv == ["{origination_uuid=u-1}sofia/gateway/gw1/13900000001", "&socket(127.0.0.1:8085 async full)"]
    for bad in ("&socket(a  b)", "&socket( a)", "&socket(${x})", "&socket(a'b)", "&socket(a,b)"):
        with pytest.raises(syntax.UnsafeValue):
            syntax.originate_command("user/1001", bad)
