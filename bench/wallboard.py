"""Wallboard benchmark: 1,000 agents, 200 queues, 50 browsers (SSE clients).

    .venv/bin/python bench/wallboard.py [--redis redis://127.0.0.1:6390/0] [--agents 1000]
        [--queues 200] [--clients 50] [--changes 20] [--runs 3]

`fsapp wallboard` runs as its own process on the Redis routing backend (a key prefix of
its own, removed at the end), as in production. This process connects the SSE clients
(raw sockets, gevent), then changes one agent's status at a time through the backend
(as `fsapp agent break` does: a Redis write and a pub/sub event) and times, for every
client, the moment the `update` event naming that agent in its new state arrives.
Printed per run: latency p50/p99 over all (change, client) pairs, and the CPU seconds
the wallboard process used during the run (its utime+stime from /proc), i.e. the work of
following events, re-reading 1,000 agents every second and writing to 50 streams.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gevent  # noqa: E402

from fsapp.routing.config import loads_routing, seed_backend  # noqa: E402
from fsapp.routing.model import AgentStatus  # noqa: E402
from fsapp.routing.redis_backend import RedisBackend  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def routing_yaml(agents: int, queues: int) -> str:
    lines = ["queues:"] + [f"  q{q:03d}: {{}}" for q in range(queues)] + ["agents:"]
    lines += [f'  "{8000 + a}": {{contact: user/{8000 + a}, status: Available}}' for a in range(agents)]
    lines += ["tiers:"] + [f'  - {{queue: q{a % queues:03d}, agent: "{8000 + a}"}}' for a in range(agents)]
    return "\n".join(lines) + "\n"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Client:
    """One browser: a raw SSE stream; records when each (agent, state) first arrives."""

    def __init__(self, port: int):
        self.seen: dict[tuple[str, str], float] = {}
        self.ready = gevent.event.Event()
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        self.greenlet = gevent.spawn(self._read)

    def _read(self) -> None:
        buffer = b""
        while True:
            data = self.sock.recv(1 << 20)
            if not data:
                return
            buffer += data
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                at = time.monotonic()
                kind = data_line = None
                for line in block.split(b"\n"):
                    if line.startswith(b"event: "):
                        kind = line[7:].decode()
                    elif line.startswith(b"data: "):
                        data_line = line[6:]
                if kind == "snapshot":
                    self.ready.set()
                elif kind == "update" and data_line:
                    for name, agent in json.loads(data_line).get("agents", {}).items():
                        self.seen.setdefault((name, agent["state"]), at)

    def close(self) -> None:
        self.greenlet.kill(block=False)
        self.sock.close()


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--redis", default=os.environ.get("FSAPP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--queues", type=int, default=200)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--changes", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    prefix = f"bench-wallboard-{uuid.uuid4().hex[:8]}:"
    work = Path(tempfile.mkdtemp(prefix="fsapp-bench-wallboard-"))
    (work / "routing.yaml").write_text(routing_yaml(args.agents, args.queues))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (work / "fsapp.toml").write_text(f"""[routing]
backend = "redis"
redis_url = "{args.redis}"
redis_prefix = "{prefix}"
config = "{work / 'routing.yaml'}"
[alarms]
enabled = false
[logging]
level = "WARNING"
""")
    backend = RedisBackend.from_url(args.redis, prefix=prefix)
    seed_backend(loads_routing(routing_yaml(args.agents, args.queues), "routing.yaml"), backend, time.time())
    env = {k: v for k, v in os.environ.items() if not k.startswith("FSAPP_")}
    board = subprocess.Popen([str(Path(sys.executable).parent / "fsapp"), "--config", str(work / "fsapp.toml"),
                              "wallboard", "--listen", f"127.0.0.1:{port}"], env=env,
                             stderr=subprocess.PIPE, cwd=work)
    try:
        line = ""
        while "http://" not in line:          # after any notes (no database: fine here)
            line = board.stderr.readline().decode()
            assert line, "fsapp wallboard did not start"
        print(f"wallboard: {args.agents} agents, {args.queues} queues, {args.clients} SSE clients, "
              f"{args.changes} changes per run, {args.runs} runs (Redis {args.redis})")
        clients = [Client(port) for _ in range(args.clients)]
        for c in clients:
            assert c.ready.wait(60), "no snapshot"
        names = [str(8000 + a) for a in range(args.agents)]
        p50s, p99s, cpus, maxes = [], [], [], []
        for run in range(args.runs):
            latencies = []
            cpu0, wall0 = cpu_seconds(board.pid), time.monotonic()
            for i in range(args.changes):
                name = names[(run * args.changes + i) * 37 % len(names)]
                rec = backend.get_agent(name)
                new = AgentStatus.ON_BREAK if rec.status is not AgentStatus.ON_BREAK else AgentStatus.AVAILABLE
                state = "break" if new is AgentStatus.ON_BREAK else "available"
                for c in clients:
                    c.seen.pop((name, state), None)
                changed = time.monotonic()
                backend.set_status(name, new, time.time())
                deadline = changed + 10
                while not all((name, state) in c.seen for c in clients) and time.monotonic() < deadline:
                    gevent.sleep(0.002)
                missing = sum(1 for c in clients if (name, state) not in c.seen)
                assert not missing, f"{missing} clients never saw {name} {state}"
                latencies += [c.seen[(name, state)] - changed for c in clients]
                gevent.sleep(0.1)       # changes apart, as people make them
            cpu, wall = cpu_seconds(board.pid) - cpu0, time.monotonic() - wall0
            p50s.append(pct(latencies, 50) * 1000)
            p99s.append(pct(latencies, 99) * 1000)
            maxes.append(max(latencies) * 1000)
            cpus.append(cpu)
            print(f"  run {run + 1}: p50 {p50s[-1]:.1f} ms  p99 {p99s[-1]:.1f} ms  max {maxes[-1]:.1f} ms  "
                  f"wallboard CPU {cpu:.2f} s in {wall:.1f} s ({args.changes} changes)")
        for label, values, unit in (("p50 latency", p50s, "ms"), ("p99 latency", p99s, "ms"),
                                    ("wallboard CPU per run", cpus, "s")):
            print(f"{label:>22}: min {min(values):.2f}  median {statistics.median(values):.2f}  "
                  f"max {max(values):.2f} {unit}")
        for c in clients:
            c.close()
    finally:
        board.terminate()
        board.wait(20)
        backend.delete_all()
        backend.close()


if __name__ == "__main__":
    main()
