"""Fidelity: every capture in /work/shared/esl-captures replayed against the emulator.

See tests/sim/replay.py for how messages are compared and the commented allow-list.
The captures run concurrently (each on its own emulator) in real time (the 20 ms frame timing that orders replies and events needs it).
"""
import gevent
import pytest

from .replay import Replay, compare

CAPTURES = ["inbound_auth_ok", "inbound_auth_bad", "inbound_events_plain", "inbound_events_json",
            "outbound_full_session", "outbound_hangup_mid_playback", "outbound_not_full_and_errors",
            "outbound_event_plain_vs_json", "outbound_event_lock"]
# mod_callcenter is not emulated: fsapp does ACD itself (fsapp.routing), so these two
# captures document FreeSWITCH behaviour but have no emulator counterpart.
NOT_EMULATED = {"callcenter_queue": "mod_callcenter is not emulated (fsapp.routing does ACD)",
                "callcenter_queue_loopback_agent_fail": "mod_callcenter is not emulated (fsapp.routing does ACD)"}

_results = {}


@pytest.fixture(scope="module")
def replays(captures_dir):
    """Run all replays at once (they mostly wait), then compare each in its own test."""
    found = {p.stem for p in captures_dir.glob("*.jsonl")}
    unknown = found - set(CAPTURES) - set(NOT_EMULATED)
    assert not unknown, f"new captures without a fidelity test: {sorted(unknown)}"
    runs = {name: Replay(captures_dir / f"{name}.jsonl", scale=1.0) for name in CAPTURES}
    greenlets = {name: gevent.spawn(r.run) for name, r in runs.items()}
    gevent.joinall(list(greenlets.values()), timeout=90)
    for name, g in greenlets.items():
        if not g.successful():
            raise AssertionError(f"replay of {name} failed: {g.exception!r}")
    return runs


@pytest.mark.parametrize("name", CAPTURES)
def test_capture_matches(replays, name):
    r = replays[name]
    diff = compare(name, r.recs, r.expected_msgs, r.got)
    assert not diff.problems, f"{name}: {len(diff.problems)} differences:\n" + "\n".join(diff.problems)


@pytest.mark.parametrize("name", sorted(NOT_EMULATED))
def test_not_emulated_captures_are_listed(captures_dir, name):
    assert (captures_dir / f"{name}.jsonl").exists(), name
