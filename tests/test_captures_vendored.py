"""The vendored ESL captures (tests/data/esl-captures) stay in step with ../shared.

../shared/esl-captures gains new recordings from a real FreeSWITCH over time; the tests
read the copy inside the repository so that a clone anywhere runs the suite. Where the
shared folder is present (a developer's checkout), every file in it must be vendored
byte for byte: copy new ones with `cp -r ../shared/esl-captures tests/data/`.
"""
import pytest

from .conftest import CAPTURES, SHARED_CAPTURES


def test_vendored_captures_exist():
    assert (CAPTURES / "README.md").is_file()
    assert list(CAPTURES.glob("*.jsonl")), "no captures vendored in tests/data/esl-captures"


@pytest.mark.skipif(not SHARED_CAPTURES.is_dir(), reason="no ../shared/esl-captures beside this clone")
def test_vendored_captures_match_shared():
    stale = [p.name for p in SHARED_CAPTURES.iterdir()
             if p.is_file() and (not (CAPTURES / p.name).is_file()
                                 or (CAPTURES / p.name).read_bytes() != p.read_bytes())]
    assert not stale, (f"captures in {SHARED_CAPTURES} not vendored (or changed): {sorted(stale)}; "
                       "run: cp -r ../shared/esl-captures tests/data/")
