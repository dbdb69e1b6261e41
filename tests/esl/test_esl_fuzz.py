"""The parser's promise under hostile bytes: any input gives messages or ProtocolError,
nothing else, and the same outcome however the reads are split (fsapp/esl/fuzz.py; run it
for many more inputs with `python -m fsapp.esl.fuzz --frames 100000`)."""
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fsapp.esl import fuzz


@pytest.fixture(scope="module")
def frames(captures_dir):
    return fuzz.load_frames(captures_dir)


def assert_promise(data: bytes, cuts: list[int]):
    counts = fuzz.Counts()
    fuzz.check(data, cuts, counts)
    assert counts.other_exceptions == 0 and counts.mismatches == 0, "\n".join(counts.failures)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_mutated_captured_frames(frames, seed):
    rng = random.Random(seed)
    data = fuzz.mutate(rng, frames)
    assert_promise(data, fuzz.random_cuts(rng, len(data)))


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(min_value=1, max_value=399), max_size=8))
def test_arbitrary_bytes(data, cuts):
    framed = b"Content-Type: text/event-plain\nContent-Length: %d\n\n" % len(data) + data
    for raw in (data, framed):
        assert_promise(raw, sorted({c for c in cuts if c < len(raw)}))


@pytest.mark.parametrize("mutation", fuzz.MUTATIONS, ids=lambda m: m.__name__)
def test_every_mutation_keeps_the_promise(frames, mutation):
    rng = random.Random(mutation.__name__)
    for _ in range(150):
        data = rng.choice(frames)
        data = mutation(rng, data, rng.choice(frames)) if mutation is fuzz.splice else mutation(rng, data)
        assert_promise(data, fuzz.random_cuts(rng, len(data)))


def test_the_fuzz_command_prints_its_counts(captures_dir, capsys):
    assert fuzz.main(["--frames", "300", "--seed", "7", "--captures", str(captures_dir)]) == 0
    out = capsys.readouterr().out
    assert "inputs (mutated frames, each fed whole and split): 300" in out
    assert "other exceptions: 0" in out and "whole/split mismatches: 0" in out
