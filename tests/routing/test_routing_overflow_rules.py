"""Overflow rules decided by position (the dispatcher, both backends, a controllable clock)."""
import pytest

from fsapp.routing.model import Member
from fsapp.routing.policy import Decision, beyond_limit
from routing_helpers import seeded_dispatcher

CONFIG = """
queues:
  short:
    overflow:
      - {queue_longer_than: 2, queue: spill}
  spill: {}
agents:
  a1: {contact: user/1001, status: On Break}
tiers:
  - {queue: short, agent: a1}
"""


@pytest.fixture
def dispatcher(backend):
    d, clock = seeded_dispatcher(backend, CONFIG)
    yield d, clock
    d.stop()


def test_queue_longer_than_overflows_only_the_callers_beyond_the_limit(dispatcher):
    # Regression: with `queue_longer_than: 2` the rule was checked against the queue's
    # length for every member, so the third caller sent all three away (queue emptied).
    d, clock = dispatcher
    tickets = []
    for n in range(5):
        tickets.append(d.join(Member(f"m{n + 1}", "short", joined_at=clock.t)))
        d.dispatch_once()
        clock.t += 1
    decisions = {t.member.id: t.wait(0) for t in tickets}
    assert [m for m, dec in decisions.items() if dec is None] == ["m1", "m2"]
    for m in ("m3", "m4", "m5"):        # the newest: each as it arrived beyond the limit
        assert isinstance(decisions[m], Decision)
        assert (decisions[m].action, decisions[m].target) == ("queue", "spill")
    assert [t.active for t in tickets] == [True, True, False, False, False]


def test_a_higher_priority_caller_pushes_the_lowest_ranked_out(dispatcher):
    d, clock = dispatcher
    t1 = d.join(Member("m1", "short", joined_at=clock.t))
    t2 = d.join(Member("m2", "short", joined_at=clock.t + 1))
    clock.t += 2
    vip = d.join(Member("vip", "short", joined_at=clock.t, priority=5))
    d.dispatch_once()
    assert t1.wait(0) is None and vip.wait(0) is None
    assert isinstance(t2.wait(0), Decision)


def test_beyond_limit_is_by_position():
    assert [p for p in range(1, 6) if beyond_limit(p, 2)] == [3, 4, 5]
    assert beyond_limit(1, 0)


BROKEN = """calendars: calendars.yaml
queues:
  hotline:
    leave-key: "1"
    leave-target: callback_offer
    calendar: office_hourz
    closed-target: flow:mayors_mailbox
    overflow:
      - {estimated_wait_over: 600, flow: callback_offer}
      - {no_agent: 30, flow: mayors_mailbox}
"""


def test_fsapp_validate_checks_routing_targets_and_calendars_with_the_flows(tmp_path, monkeypatch):
    """routing.yaml naming a flow or a calendar that does not exist: file:line:col errors
    from `fsapp validate` (the reference routing.yaml named two missing flows)."""
    import shutil
    from pathlib import Path

    from click.testing import CliRunner

    from fsapp.cli import main
    root = Path(__file__).resolve().parents[2]
    (tmp_path / "routing.yaml").write_text(BROKEN, encoding="utf-8")
    shutil.copy(root / "calendars.yaml", tmp_path / "calendars.yaml")
    monkeypatch.chdir(root)
    for key, value in {"FSAPP_ROUTING_CONFIG": str(tmp_path / "routing.yaml"),
                       "FSAPP_FLOWS_CALENDARS": str(tmp_path / "calendars.yaml")}.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(main, ["validate", "ivr_flows/"], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    where = str(tmp_path / "routing.yaml")
    lines = [line for line in result.output.splitlines() if line.startswith(where)]
    assert lines == [
        f"{where}:5:19: queue 'hotline' leave-target: no flow 'callback_offer'",
        f"{where}:6:15: queue 'hotline': no calendar 'office_hourz' in calendars.yaml",
        f"{where}:9:42: queue 'hotline' overflow: no flow 'callback_offer'"], result.output
    # a site or queue that does not exist: routing.yaml does not load, the same position
    (tmp_path / "routing.yaml").write_text(BROKEN.replace("{no_agent: 30, flow: mayors_mailbox}",
                                                          "{no_agent: 30, site_queue: north/hotline}"))
    result = CliRunner().invoke(main, ["validate", "ivr_flows/"], catch_exceptions=False)
    assert result.exit_code == 1
    assert f"{where}:10:1: queue 'hotline' overflow: unknown site 'north' in 'north/hotline'" in result.output
    # the reference routing.yaml and flows are consistent
    monkeypatch.delenv("FSAPP_ROUTING_CONFIG")
    monkeypatch.delenv("FSAPP_FLOWS_CALENDARS")
    assert CliRunner().invoke(main, ["validate", "ivr_flows/"], catch_exceptions=False).exit_code == 0
