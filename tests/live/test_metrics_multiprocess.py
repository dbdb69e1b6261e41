"""Several workers, one endpoint: with PROMETHEUS_MULTIPROC_DIR every process writes its
values to the shared directory and any worker's /metrics answers for all of them
(counters summed, calls in progress summed over live workers, shared-state gauges the
most recent). Real processes: prometheus_client picks its value store at import."""
import os
import subprocess
import sys
import textwrap

from prometheus_client.parser import text_string_to_metric_families

WORKER = textwrap.dedent("""
    import sys
    from fsapp.live.feeds import FlowFeed
    from fsapp.live.metrics import Metrics
    metrics = Metrics()
    feed = FlowFeed(metrics)
    for n in range(int(sys.argv[1])):
        feed({"event": "enter", "flow": "hotline", "node": "welcome", "uuid": f"{sys.argv[2]}-{n}"})
    feed({"event": "end", "flow": "hotline", "node": "welcome", "uuid": f"{sys.argv[2]}-0", "reason": "hangup"})
    metrics.fsapp_agents.labels("available").set(int(sys.argv[3]))
    if sys.argv[4] == "dead":
        from prometheus_client import multiprocess
        import os
        multiprocess.mark_process_dead(os.getpid())
""")

SCRAPE = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()     # as `fsapp serve` does: the request below must not block the server
    import urllib.request
    from fsapp.live.service import ServeMetrics
    live = ServeMetrics("127.0.0.1:0").start()
    host, port = live.address
    print(urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10).read().decode())
    live.stop()
""")


def test_two_workers_one_endpoint(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    run = lambda *args: subprocess.run([sys.executable, "-c", *args], env=env, check=True,  # noqa: E731
                                       capture_output=True, text=True, timeout=120).stdout
    run(WORKER, "3", "a", "5", "alive")      # 3 calls entered, 1 ended: 2 in progress
    run(WORKER, "2", "b", "7", "alive")      # 2 entered, 1 ended: 1 in progress; agents written last
    run(WORKER, "4", "c", "1", "dead")       # a worker that stopped: its calls in progress leave the sum
    text = run(SCRAPE)
    values = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for f in text_string_to_metric_families(text) for s in f.samples}
    assert values[("fsapp_node_visits_total", (("flow", "hotline"), ("node", "welcome")))] == 9
    assert values[("fsapp_calls_total", (("flow", "hotline"), ("outcome", "hangup")))] == 3
    assert values[("fsapp_calls_in_progress", (("flow", "hotline"),))] == 3     # livesum: a and b
    assert values[("fsapp_agents", (("state", "available"),))] == 1              # mostrecent: c wrote last
