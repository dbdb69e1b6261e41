"""The reconciler runs at start, after every ESL reconnect, and periodically."""
import gevent

from fsapp.routing.reconciler import Reconciler


class Switch:
    def __init__(self):
        self.connects = 1
        self.asked = 0

    def show_channels(self):
        self.asked += 1
        return []


def test_runs_at_start_and_after_each_reconnect(backend):
    switch = Switch()
    rec = Reconciler(backend, [switch], "me", interval=3600).start()
    try:
        # wait for what a run does last that the test can see (the switch asked), not for
        # `runs`, which counts up before the run reads the state backend (a Redis round
        # trip in which the test could look too early)
        with gevent.Timeout(5):
            while switch.asked < 1:
                gevent.sleep(0.05)
        gevent.sleep(1.5)
        assert rec.runs == 1 and switch.asked == 1   # the periodic run is an hour away
        switch.connects += 1                      # the ESL client reconnected
        with gevent.Timeout(5):
            while switch.asked < 2:
                gevent.sleep(0.05)
        assert rec.runs == 2
    finally:
        rec.stop()


def test_unreachable_switch_judges_no_channel_dead(backend):
    from fsapp.esl.errors import NotConnected
    from fsapp.routing.model import Member
    import time

    class Down:
        connects = 0

        def show_channels(self):
            raise NotConnected("switch down")

    backend.add_member(Member("call-1", "q", joined_at=time.time(), owner="me", expires=time.time() + 30))
    assert Reconciler(backend, [Down()], "me").run_once() == []
    assert backend.get_member("call-1") is not None
