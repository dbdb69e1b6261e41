from pathlib import Path

import pytest

from fsapp.calendar import SourceError
from fsapp.routing.config import load_routing, loads_routing
from fsapp.routing.model import AgentStatus

ROOT = Path(__file__).resolve().parents[2]


def test_example_file_loads():
    cfg = load_routing(ROOT / "routing.yaml")
    hotline = cfg.queue("hotline")
    assert hotline.tier_rules_apply and hotline.tier_rule_wait_second == 60
    assert [(r.condition, r.action, r.target) for r in hotline.overflow] == [
        ("estimated_wait_over", "flow", "mayors_mailbox"), ("no_agent", "flow", "mayors_mailbox"),
        ("queue_longer_than", "queue", "overflow_site")]      # every flow named exists (ivr_flows/)
    assert (hotline.calendar, hotline.closed_target, hotline.leave_target) == (
        "hotline_12345", "flow:mayors_mailbox", "callback")
    assert cfg.agents["1001"].status == AgentStatus.AVAILABLE
    assert cfg.agents["1003"].max_no_answer == 2
    assert cfg.levels("hotline") == [1, 2]
    with pytest.raises(KeyError, match="unknown queue 'nope'"):
        cfg.queue("nope")


BASE = "agents:\n  a: {contact: user/a}\n"


@pytest.mark.parametrize("text, line, words", [
    ("queues:\n  q:\n    strategy: fastest\n", 3, "unknown strategy 'fastest'"),
    ("queues:\n  q:\n    max-wait-tim: 5\n", 3, "unknown setting 'max-wait-tim'"),
    ("queues:\n  q:\n    max-wait-time: soon\n", 3, "expected float"),
    ("queues:\n  q:\n    max-wait-time: -5\n", 3, "negative"),
    ("queues:\n  q:\n    overflow:\n      - {after: 5}\n", 4, "exactly one condition"),
    ("queues:\n  q:\n    overflow:\n      - {after: 5, queue: nowhere}\n", 4, "unknown queue 'nowhere'"),
    ("queues:\n  q:\n    overflow:\n      - {aftr: 5, flow: x}\n", 4, "unknown key 'aftr'"),
    ("queues:\n  q:\n    overflow:\n      - {after: 5, site_queue: b/q}\n", 4, "unknown site 'b'"),
    ("sites:\n  b: {dial: 'sofia/gateway/b/{queue}', queues: [x]}\nqueues:\n  q:\n    overflow:\n"
     "      - {after: 5, site_queue: b/q}\n", 6, "site 'b' serves no queue 'q'"),
    ("queues:\n  q:\n    number-dial: sofia/gateway/pstn/{number}\n    overflow:\n      - {after: 5, number: '1}x'}\n",
     5, "is not a phone number"),
    ("queues:\n  q:\n    overflow:\n      - {after: 5, number: '95598'}\n", 4, "needs the queue's number-dial"),
    ("queues:\n  q:\n    number-dial: 'sofia/gateway/pstn/{number},user/1'\n", 3, "number-dial"),
    ("sites:\n  b: {dial: 'sofia/gateway/b/{queue}|user/1', queues: [x]}\n", 2, "site 'b' dial"),
    ("queues:\n  q:\n    closed-target: mailbox\n", 3, "is not KIND:NAME"),
    ("queues:\n  q:\n    number-dial: 'sofia/gateway/pstn/{num}'\n", 3, "may use only {number}"),
    ("sites:\n  b: {dial: 'sofia/gateway/b/{queue}/{x}', queues: [x]}\n", 2, "may use only {queue}"),
    ("agents:\n  a: {skills: {x: 1}}\n", 2, "'contact'"),
    ("agents:\n  a:\n    contact: user/a\n    status: Sleeping\n", 4, "unknown agent status"),
    ("agents:\n  a:\n    contact: user/a\n    skills: {x: 11}\n", 4, "0-10"),
    ("queues:\n  q: {}\n" + BASE + "tiers:\n  - {queue: q, agent: b}\n", 6, "unknown agent 'b'"),
    ("queues:\n  q: {}\n" + BASE + "tiers:\n  - {queue: r, agent: a}\n", 6, "unknown queue 'r'"),
    ("queues:\n  q: {}\n" + BASE + "tiers:\n  - {queue: q, agent: a}\n  - {queue: q, agent: a}\n", 7, "twice"),
    ("queue:\n  q: {}\n", 1, "unknown top-level key 'queue'"),
    ("queues:\n  q:\n    announce-position: true\n    language: chinese\n", 4, "language 'chinese' is not a language tag"),
    ("queues:\n  q:\n    agent-id-language: en\n", 3, "agent-id-language 'en' is not a language tag"),
])
def test_errors_name_the_line(text, line, words):
    with pytest.raises(SourceError) as err:
        loads_routing(text, "r.yaml")
    assert str(err.value).startswith(f"r.yaml:{line}: "), str(err.value)
    assert words in str(err.value)


def test_seeding_a_changed_file_reconciles_the_state_instead_of_wiping_it(backend):
    """A deploy's routing.yaml on a running state: agents keep their status, tiers follow
    the file (the previous file's tiers it dropped go), a tier added by hand stays."""
    from fsapp.routing.config import seed_backend
    from fsapp.routing.model import Tier

    v1 = loads_routing("queues: {sales: {}, vip: {}}\n"
                       "agents:\n  a: {contact: user/a, status: Available}\n  b: {contact: user/b}\n"
                       "tiers:\n  - {queue: sales, agent: a}\n  - {queue: sales, agent: b}\n")
    v2 = loads_routing("queues: {sales: {}, vip: {}}\n"
                       "agents:\n  a: {contact: user/a, status: Available, wrap-up-time: 9}\n"
                       "  b: {contact: user/b}\n  c: {contact: user/c, status: Available}\n"
                       "tiers:\n  - {queue: sales, agent: b, level: 2}\n  - {queue: vip, agent: c}\n")
    seed_backend(v1, backend, 100.0)
    backend.set_status("a", AgentStatus.ON_BREAK, 101.0)
    backend.add_tier(Tier("vip", "a"))                    # `fsapp tier add vip a`
    seed_backend(v2, backend, 102.0)
    a = backend.get_agent("a")
    assert a.status == AgentStatus.ON_BREAK and a.wrap_up_time == 9
    assert sorted((t.queue, t.agent, t.level) for t in backend.tiers()) == [
        ("sales", "b", 2), ("vip", "a", 1), ("vip", "c", 1)]
