"""Circuit breaker states, on a fake clock."""
import pytest

from fsapp.store import CircuitOpen
from fsapp.store.breaker import CircuitBreaker


class Clock:
    t = 0.0

    def __call__(self):
        return self.t


def test_opens_after_threshold_then_one_trial_decides():
    clock = Clock()
    b = CircuitBreaker("main", failures=3, cooldown=2.0, max_cooldown=5.0, clock=clock)
    for _ in range(2):
        b.before_call()
        b.failure()
    assert b.state == "closed"
    b.before_call()
    b.failure()
    assert b.state == "open"
    with pytest.raises(CircuitOpen, match="next try in 2.0s"):
        b.before_call()
    clock.t = 2.0
    b.before_call()                       # the one trial
    with pytest.raises(CircuitOpen):
        b.before_call()                   # others wait for its outcome
    b.failure()                           # failed trial: cool-down doubles
    assert b.state == "open" and b.cooldown == 4.0
    clock.t = 6.0
    b.before_call()
    b.failure()
    assert b.cooldown == 5.0              # capped
    clock.t = 11.0
    b.before_call()
    b.success()
    assert b.state == "closed" and b.cooldown == 2.0
    b.before_call()


def test_a_rejected_query_during_the_trial_closes_it():
    clock = Clock()
    b = CircuitBreaker("main", failures=1, cooldown=1.0, clock=clock)
    b.failure()
    clock.t = 1.0
    b.before_call()
    b.neutral()                           # the server answered (with an error about the SQL)
    assert b.state == "closed"
