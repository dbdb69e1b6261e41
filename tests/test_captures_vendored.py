"""The vendored ESL captures (tests/data/esl-captures) stay in step with ../shared.

../shared/esl-captures gains new recordings from a real FreeSWITCH over time; the tests
read the copy inside the repository so that a clone anywhere runs the suite. Where the
shared folder is present (a developer's checkout), every file in it must be vendored
byte for byte: copy new ones with `cp -r ../shared/esl-captures tests/data/`.

A few captures were recorded by fsapp's developers on their own FreeSWITCH build
(FSAPP_RECORDED): they are not in the shared folder; the vendored README.md is the shared
one with a section about them appended.
"""
import pytest

from .conftest import CAPTURES, SHARED_CAPTURES

# Recorded on fsapp's own FreeSWITCH 1.10.12 build (README.md, "Recorded by fsapp").
FSAPP_RECORDED = {"fallback_native_ivr_keys", "fallback_native_ivr_failures",
                  "outbound_refused_close", "outbound_refused_hand_back", "outbound_pipelined_body_arg",
                  "outbound_pipelined_goodbye"}
FSAPP_SECTION = "\n## Recorded by fsapp (not in the shared set)\n"


def test_fsapp_recorded_captures_are_described():
    readme = (CAPTURES / "README.md").read_text(encoding="utf-8")
    assert FSAPP_SECTION in readme
    section = readme.split(FSAPP_SECTION, 1)[1]
    for name in sorted(FSAPP_RECORDED):
        assert (CAPTURES / f"{name}.jsonl").is_file() and (CAPTURES / f"{name}.txt").is_file(), name
        assert f"`{name}`" in section, f"{name} is not described in README.md's fsapp section"


def test_vendored_captures_exist():
    assert (CAPTURES / "README.md").is_file()
    assert list(CAPTURES.glob("*.jsonl")), "no captures vendored in tests/data/esl-captures"


@pytest.mark.skipif(not SHARED_CAPTURES.is_dir(), reason="no ../shared/esl-captures beside this clone")
def test_vendored_captures_match_shared():
    stale = [p.name for p in SHARED_CAPTURES.iterdir()
             if p.is_file() and p.name != "README.md" and (not (CAPTURES / p.name).is_file()
                                                          or (CAPTURES / p.name).read_bytes() != p.read_bytes())]
    shared_readme = (SHARED_CAPTURES / "README.md").read_bytes()
    readme = (CAPTURES / "README.md").read_bytes()
    if readme.split(FSAPP_SECTION.encode(), 1)[0] != shared_readme:
        stale.append("README.md (the text before its fsapp section)")
    assert not stale, (f"captures in {SHARED_CAPTURES} not vendored (or changed): {sorted(stale)}; "
                       "run: cp -r ../shared/esl-captures tests/data/ (then put back the fsapp section "
                       "of README.md)")
    foreign = {p.name.rsplit(".", 1)[0] for p in CAPTURES.glob("*.jsonl")} \
        - {p.name.rsplit(".", 1)[0] for p in SHARED_CAPTURES.glob("*.jsonl")} - FSAPP_RECORDED
    assert not foreign, f"captures neither shared nor listed in FSAPP_RECORDED: {sorted(foreign)}"
