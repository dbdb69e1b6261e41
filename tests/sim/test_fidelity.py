"""Fidelity: every capture in tests/data/esl-captures replayed against the emulator.

See tests/sim/replay.py for how messages are compared and the commented allow-list.
The captures run concurrently (each on its own emulator) in real time (the 20 ms frame timing that orders replies and events needs it).
"""
import gevent
import pytest

from .replay import Replay, compare

# The replays keep a real switch's 20 ms frame timing on the wall clock: beside the other
# worker's stress tests they missed heartbeats and cut a recording short, so `make test`
# runs them in its serial pass.
pytestmark = pytest.mark.serial

CAPTURES = ["inbound_auth_ok", "inbound_auth_bad", "inbound_events_plain", "inbound_events_json",
            "outbound_full_session", "outbound_hangup_mid_playback", "outbound_not_full_and_errors",
            "outbound_event_plain_vs_json", "outbound_event_lock",
            # mod_callcenter (fsapp/sim/callcenter.py); both wait on real seconds (5 s
            # loopback-agent timeouts, epoch-second dispatch), so they run at scale 1.0 too.
            "callcenter_queue", "callcenter_queue_loopback_agent_fail",
            # play_and_get_digits edges (README "Captures added later"): digits then the
            # timeout, a terminator after a full entry, an invalid try then a valid one.
            "pagd_timeout_with_digits", "pagd_terminator_after_full_entry", "pagd_invalid_then_valid",
            # record of a tone from the far leg: default `*` terminator, then
            # playback_terminators=# (fsapp/sim/apps/dptools.py app_record)
            "record_with_audio",
            # say with log/data lines, languages missing then added (fsapp/sim/apps/say.py)
            "say_zh_money"]

# Recorded by fsapp on its own build (the captures' README, "Recorded by fsapp"): their
# dialplan is fsapp deploy's and their prompts fsapp's, so they are compared step by step
# by these tests instead of replayed here.
CHECKED_ELSEWHERE = {
    "fallback_native_ivr_keys": "tests/deploy/test_native_fallback.py",
    "fallback_native_ivr_failures": "tests/deploy/test_native_fallback.py",
    "outbound_refused_close": "tests/esl/test_esl_outbound_refusal.py",
    "outbound_refused_hand_back": "tests/esl/test_esl_outbound_refusal.py",
    # only its outbound connection was recorded (no inbound originate to replay it from)
    "outbound_pipelined_body_arg": "tests/esl/test_esl_outbound_replay.py",
    "outbound_pipelined_goodbye": "tests/esl/test_esl_outbound_replay.py",
}

_results = {}


@pytest.fixture(scope="module")
def replays(captures_dir):
    """Run all replays at once (they mostly wait), then compare each in its own test."""
    found = {p.stem for p in captures_dir.glob("*.jsonl")}
    unknown = found - set(CAPTURES) - set(CHECKED_ELSEWHERE)
    assert not unknown, f"new captures without a fidelity test: {sorted(unknown)}"
    runs = {name: Replay(captures_dir / f"{name}.jsonl", scale=1.0) for name in CAPTURES}
    greenlets = {name: gevent.spawn(r.run) for name, r in runs.items()}
    gevent.joinall(list(greenlets.values()), timeout=90)
    for name, g in greenlets.items():
        if not g.successful():
            raise AssertionError(f"replay of {name} failed: {g.exception!r}")
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("name", CAPTURES)
def test_capture_matches(replays, name):
    r = replays[name]
    diff = compare(name, r.recs, r.expected_msgs, r.got)
    assert not diff.problems, f"{name}: {len(diff.problems)} differences:\n" + "\n".join(diff.problems)


RECORD_VALUES = ("variable_record_ms", "variable_record_samples", "variable_record_seconds",
                 "variable_record_file_size", "variable_silence_hits_exhausted",
                 "variable_playback_terminator_used")


def _record_results(msgs) -> list[dict]:
    return [{k: m.event.get(k) for k in RECORD_VALUES} for m in msgs
            if m is not None and m.event and m.event.get("Event-Name") == "CHANNEL_EXECUTE_COMPLETE"
            and m.event.get("Application") == "record"]


def _key_offsets(msgs) -> list[int | None]:
    """For each `record`: its length minus the time from its CHANNEL_EXECUTE to the DTMF
    that ended it (the switch's own Event-Date-Timestamps), in ms; None if no key ended it."""
    out, started, key_at = [], None, None
    for m in msgs:
        if m is None or not m.event:
            continue
        name, stamp = m.event.get("Event-Name"), int(m.event.get("Event-Date-Timestamp") or 0)
        if name == "CHANNEL_EXECUTE" and m.event.get("Application") == "record":
            started, key_at = stamp, None
        elif name == "DTMF" and started is not None and key_at is None:
            key_at = stamp
        elif name == "CHANNEL_EXECUTE_COMPLETE" and m.event.get("Application") == "record":
            ended_by_key = bool(m.event.get("variable_playback_terminator_used"))
            out.append(int(m.event.get("variable_record_ms")) - (key_at - started) // 1000
                       if ended_by_key and key_at is not None else None)
            started = None
    return out


def test_record_values_match_capture(replays):
    """record_with_audio: what the recording holds, not only which headers it has. How
    the recording ended must be exact. Its length: one ended by silence holds the far
    leg's 3 s tone (a frame or two of scheduling either way); one ended by a key is
    compared by how much shorter it is than the time from its start to that key, on the
    switch's own event clock, because when the replay's key lands after the start moves
    with the machine's load (a loaded run once had it 120 ms earlier)."""
    r = replays["record_with_audio"]
    expected, got = _record_results(r.expected_msgs["outbound"]), _record_results(r.got["outbound"])
    assert len(got) == len(expected) == 2
    offsets = list(zip(_key_offsets(r.expected_msgs["outbound"]), _key_offsets(r.got["outbound"])))
    assert len(offsets) == 2 and offsets[0] == (None, None) and None not in offsets[1], offsets
    for (exp, have), (exp_offset, have_offset) in zip(zip(expected, got), offsets):
        for name in ("variable_silence_hits_exhausted", "variable_playback_terminator_used"):
            assert have[name] == exp[name], (name, have, exp)
        if exp_offset is None:
            assert abs(int(have["variable_record_ms"]) - int(exp["variable_record_ms"])) <= 60, (have, exp)
        else:
            assert abs(have_offset - exp_offset) <= 60, (have, exp, have_offset, exp_offset)
        assert int(have["variable_record_samples"]) % 160 == 0          # whole 20 ms frames
        assert int(have["variable_record_file_size"]) == 44 + 2 * int(have["variable_record_samples"])
        assert int(have["variable_record_seconds"]) == int(have["variable_record_ms"]) // 1000


def test_comparator_catches_differences(captures_dir):
    """The comparison itself must fail on real differences (and pass on identical input)."""
    from .replay import load, parse_raw

    recs = load(captures_dir / "outbound_full_session.jsonl")
    r = Replay(captures_dir / "outbound_full_session.jsonl")
    exp = r.expected()
    assert compare("self", recs, exp, exp).problems == []

    def mutated(fn):
        got = {c: list(ms) for c, ms in exp.items()}
        fn(got["outbound"])
        return compare("mutated", recs, exp, got).problems

    def swap_headers(ms):
        i = next(i for i, m in enumerate(ms) if m is not None and m.event and m.event["Event-Name"] == "DTMF")
        raw = ms[i].raw.decode().replace("DTMF-Duration: 2000\nDTMF-Source: APP", "DTMF-Source: APP\nDTMF-Duration: 2000")
        ms[i] = parse_raw(raw)

    def drop_event(ms):
        i = next(i for i, m in enumerate(ms) if m is not None and m.event and m.event["Event-Name"] == "CHANNEL_ANSWER")
        del ms[i]

    def change_reply(ms):
        i = next(i for i, m in enumerate(ms) if m is not None and m.h.get("Reply-Text") == "+OK will linger")
        ms[i] = parse_raw("Content-Type: command/reply\nReply-Text: +OK will linger 5 seconds\n\n")

    def drop_variable(ms):
        i = next(i for i, m in enumerate(ms) if m is not None and m.event and m.event.get("Application") == "read")
        ms[i] = parse_raw(ms[i].raw.decode().replace("variable_read_result: success\n", ""))

    assert any("headers differ" in p for p in mutated(swap_headers))
    # CC-Action is part of an event's key: callcenter::info events out of order are caught.
    cc_recs = load(captures_dir / "callcenter_queue.jsonl")
    cc_exp = Replay(captures_dir / "callcenter_queue.jsonl").expected()
    assert compare("self", cc_recs, cc_exp, cc_exp).problems == []
    cc_got = {c: list(ms) for c, ms in cc_exp.items()}
    i = next(i for i, m in enumerate(cc_got["inbound"]) if m is not None and m.event
             and m.event.get("CC-Action") == "bridge-agent-start")
    cc_got["inbound"][i] = parse_raw(cc_got["inbound"][i].raw.decode().replace(
        "CC-Action: bridge-agent-start", "CC-Action: bridge-agent-fail"))
    assert any("bridge-agent-fail" in p for p in compare("mutated", cc_recs, cc_exp, cc_got).problems)
    assert any("missing ('event', 'CHANNEL_ANSWER'" in p for p in mutated(drop_event))
    assert any("+OK will linger 5 seconds" in p for p in mutated(change_reply))
    assert any("variable_read_result" in p for p in mutated(drop_variable))


def test_comparator_checks_log_lines(captures_dir):
    """log/data lines are compared as their own sequence: a missing or different line
    is a difference, whatever its position among the events."""
    from .replay import load, parse_raw

    path = captures_dir / "say_zh_money.jsonl"
    recs, exp = load(path), Replay(path).expected()
    assert compare("self", recs, exp, exp).problems == []
    got = {c: list(ms) for c, ms in exp.items()}
    logs = [i for i, m in enumerate(got["outbound"]) if m is not None and m.content_type == "log/data"]
    assert len(logs) == 21          # 3 x "Can't find language", 9 x (WARNING + ERR) for en
    del got["outbound"][logs[0]]
    i = next(i for i, m in enumerate(got["outbound"]) if m is not None and m.content_type == "log/data"
             and "digits/20.wav" in m.body)
    got["outbound"][i] = parse_raw(got["outbound"][i].raw.decode().replace("digits/20.wav", "digits/2.wav"))
    problems = compare("mutated", recs, exp, got).problems
    assert any("missing ('log', '3', 'switch_xml.c'" in p for p in problems), problems
    assert any("digits/2.wav" in p for p in problems), problems
