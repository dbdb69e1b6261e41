"""Ticket serials: Luhn check digit, and hi/lo allocation that survives outages."""
import gevent
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsapp.store import StoreUnavailable
from fsapp.store.serial_alloc import SerialAllocator
from fsapp.store.serials import MAX_NUMBER, format_serial, is_valid_serial, luhn_check_digit


def test_known_values():
    assert format_serial(1) == "00000018"
    assert luhn_check_digit("7992739871") == "3"      # the textbook Luhn example
    assert is_valid_serial("00000018")
    assert not is_valid_serial("00000017")
    assert not is_valid_serial("00000000")
    for bad in ("0000001", "000000180", "0000001a", "", None, 18, "０００００００１８"):
        assert not is_valid_serial(bad)


@given(st.integers(1, MAX_NUMBER))
def test_every_serial_is_valid_and_single_digit_errors_are_caught(n):
    s = format_serial(n)
    assert len(s) == 8 and is_valid_serial(s)
    for i in range(8):
        for d in "0123456789":
            if d != s[i]:
                assert not is_valid_serial(s[:i] + d + s[i + 1:])


@given(st.integers(1, MAX_NUMBER), st.integers(0, 6))
def test_adjacent_swaps_are_caught_except_09_90(n, i):
    s = format_serial(n)
    swapped = s[:i] + s[i + 1] + s[i] + s[i + 2:]
    if swapped != s and {s[i], s[i + 1]} != {"0", "9"}:
        assert not is_valid_serial(swapped)


class FakeDb:
    def __init__(self):
        self.next = 1
        self.up = True

    def reserve(self, block):
        if not self.up:
            raise StoreUnavailable("down")
        start, self.next = self.next, self.next + block
        return start


def test_allocators_sharing_a_database_never_collide(tmp_path):
    db = FakeDb()
    a = SerialAllocator(tmp_path / "a.state", 10, db.reserve)
    b = SerialAllocator(tmp_path / "b.state", 10, db.reserve)
    got = [x.next() for _ in range(35) for x in (a, b)]
    gevent.sleep(0.01)
    assert len(set(got)) == len(got) == 70


def test_outage_is_covered_by_reserved_blocks_and_restart_does_not_reuse(tmp_path):
    db = FakeDb()
    alloc = SerialAllocator(tmp_path / "s.state", 10, db.reserve)
    first = alloc.next()
    gevent.sleep(0.01)                    # background top-up to two blocks
    assert alloc.remaining() >= 10
    db.up = False
    during = [alloc.next() for _ in range(10)]
    restarted = SerialAllocator(tmp_path / "s.state", 10, db.reserve)   # same state file
    more = [restarted.next() for _ in range(restarted.remaining())]
    with pytest.raises(StoreUnavailable, match="no ticket numbers left"):
        restarted.next()
    everything = [first, *during, *more]
    assert len(set(everything)) == len(everything)
    db.up = True
    assert restarted.next() not in everything
