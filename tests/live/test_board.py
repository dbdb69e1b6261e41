"""The wallboard's pure state (fsapp/live/board.py) and its page template."""
from hypothesis import given, strategies as st

from fsapp.live.board import Board, Thresholds
from fsapp.live.wallboard import PAGE


def joined(member, queue="q", at=0.0):
    return {"event": "member-joined", "queue": queue, "member": member, "at": at}


def test_outcomes_count_whatever_order_the_backend_and_router_publish_in():
    board = Board(["q"], Thresholds(service_level_seconds=20))
    board.on_event(joined("a", at=0), 0)
    board.on_event({"event": "member-answered", "member": "a", "at": 10}, 10)   # answered, then removed
    board.on_event({"event": "member-left", "member": "a"}, 10)
    board.on_event(joined("b", at=0), 0)
    board.on_event({"event": "member-left", "member": "b"}, 30)                 # removed, then abandoned
    board.on_event({"event": "member-abandoned", "member": "b", "at": 30}, 30)
    board.on_event(joined("c", at=0), 0)
    board.on_event({"event": "member-answered", "member": "c", "at": 45}, 45)   # answered too late for the target
    q = board.snapshot(50)["queues"]["q"]
    assert (q["waiting"], q["answered"], q["abandoned"]) == (0, 2, 1)
    assert q["service_level"] == round(1 / 3, 4)


def test_alert_levels():
    t = Thresholds(waiting_warn=2, longest_wait_warn=60, service_level_warn=0.8)
    board = Board(["q"], t)
    board.on_event(joined("a", at=100), 100)
    assert board.snapshot(110)["queues"]["q"]["alert"] == "ok"
    assert board.snapshot(170)["queues"]["q"]["alert"] == "warn"        # waited 70 s
    assert board.snapshot(230)["queues"]["q"]["alert"] == "alarm"       # waited 130 s
    board.on_event(joined("b", at=229), 229)
    board.on_event(joined("c", at=229), 229)
    board.on_event(joined("d", at=229), 229)
    assert board.snapshot(229)["queues"]["q"]["alert"] == "alarm"       # 4 waiting = twice 2


def test_changes_are_taken_once_and_agents_change_only_on_a_new_state():
    board = Board(["q"])
    board.set_agent("1001", "available", 0)
    assert board.take_changes(0)["agents"]["1001"] == {"agent": "1001", "state": "available", "since": 0}
    board.set_agent("1001", "available", 5)
    assert board.take_changes(5) == {}
    board.set_agent("1001", "on_call", 7)
    assert board.take_changes(7)["agents"]["1001"]["since"] == 7


def test_a_new_day_starts_from_zero():
    board = Board(["q"], day_start=0)
    board.on_event(joined("a"), 0)
    board.on_event({"event": "member-abandoned", "member": "a", "at": 5}, 5)
    board.roll_day(86400)
    assert board.snapshot(86401)["queues"]["q"]["abandoned"] == 0


@given(st.lists(st.tuples(st.sampled_from(["member-joined", "member-left", "member-answered", "member-abandoned",
                                           "member-overflow", "member-timeout"]),
                          st.sampled_from(["a", "b", "c"])), max_size=40))
def test_counts_never_exceed_joins_and_waiting_never_goes_negative(events):
    board = Board(["q"])
    joins = 0
    for i, (kind, member) in enumerate(events):
        if kind == "member-joined":
            joins += member not in board.queues["q"].waiting and member not in board._members
        board.on_event({"event": kind, "queue": "q", "member": member, "at": float(i)}, float(i))
    q = board.snapshot(100)["queues"]["q"]
    assert q["waiting"] >= 0 and q["answered"] + q["abandoned"] <= joins


def test_page_escapes_what_it_is_given():
    html = PAGE.render(title="<script>alert(1)</script>", token='"><b>')
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert 'data-token="&#34;&gt;&lt;b&gt;"' in html


def test_a_board_started_at_noon_shows_the_morning(tmp_path):
    """Today's answered and abandoned calls so far come from fsapp_queue_events (SQLite, real)."""
    from fsapp.live.wallboard import Wallboard
    from fsapp.routing.backend import MemoryBackend
    from fsapp.routing.config import loads_routing
    from fsapp.store import Store
    store = Store({"main": {"odbc": f"Driver={{SQLite3}};Database={tmp_path / 'fsapp.db'}"}},
                  spool_dir=tmp_path / "spool", start=False)
    try:
        store.migrate()
        for i, (event, wait_ms) in enumerate([("enter", None), ("answered", 5000), ("answered", 30000),
                                              ("abandoned", 41000), ("overflow", 60000)]):
            store.write("queue_event", {"call_uuid": f"u{i}", "queue_name": "sales", "event": event,
                                        "wait_ms": wait_ms}, key=f"k{i}")
        routing = loads_routing("queues: {sales: {}, billing: {}}\n", "r.yaml")
        wall = Wallboard(routing, MemoryBackend(), Thresholds(service_level_seconds=20), store=store).start()
        try:
            sales = wall.snapshot()["queues"]["sales"]
            assert (sales["answered"], sales["abandoned"], sales["service_level"]) == (2, 1, round(1 / 3, 4))
            assert wall.snapshot()["queues"]["billing"]["answered"] == 0
        finally:
            wall.stop()
    finally:
        store.close()
