"""Campaign benchmark: a dialer calls N contacts at C concurrent calls through the emulator.

    .venv/bin/python bench/campaign.py [--contacts 10000] [--concurrent 50] [--repeat 3]
                                       [--scale 20] [--state sqlite|redis --redis URL]
                                       [--gateway-limit N]

The emulator runs in a child process (its CPU is not the dialer's), with emulated time
`--scale` times faster than wall time. The callees are a fixed mix: a quarter listen to
the whole outage notice (the outage_notice flow, ~20 emulated s), a quarter are busy, a
quarter hang up 2 s into the message, a quarter do not answer within the 30 s timeout.
One attempt per contact (max_attempts 1), pacing not limiting (calls_per_minute far
above what C lines carry), so C is the limit.

--gateway-limit N puts `gateways: {carrier1: N}` in the pacing: with --state redis each
call then takes and gives back a leased slot shared by every dialer (fsapp.campaign.
gateway_slots); N >= --concurrent measures that bookkeeping's cost without the limit
binding.

Per run it prints: wall time, attempts, attempts per second, and the dialer process's
CPU per attempt (time.process_time: the dialer's gevent loop, ESL client, outbound
socket running the flow, state store and outbox together); min/median/max over runs.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def number(i: int) -> str:
    return f"15{i:09d}"


def serve_emulator(contacts: int, scale: float) -> None:
    """Child process: an emulated FreeSWITCH with one scripted callee per contact."""
    import gevent

    from fsapp.sim import RealClock, Switch
    sw = Switch(esl=("127.0.0.1", 0), clock=RealClock(scale)).start()
    for i in range(contacts):
        kind = i % 4
        if kind == 0:
            sw.add_agent(number(i), ring_s=2, talk_s=600)            # listens to the end
        elif kind == 1:
            sw.add_agent(number(i), ring_s=2, answer="busy")
        elif kind == 2:
            sw.add_agent(number(i), ring_s=2, talk_s=2)              # hangs up mid-message
        else:
            sw.add_agent(number(i), ring_s=60, answer=False)         # rings out at 30 s
    print(sw.esl_port, flush=True)
    while True:
        gevent.sleep(3600)


def run_once(args, port: int, work: Path) -> dict:
    from fsapp import config
    from fsapp.calendar import loads_calendars
    from fsapp.campaign.dialer import Dialer
    from fsapp.campaign.loader import parse_text
    from fsapp.campaign.state import Contact, SQLiteStates
    from fsapp.esl import InboundClient
    from fsapp.app.services import flow_handler
    from fsapp.store import Store

    run_dir = work / uuid.uuid4().hex[:8]
    run_dir.mkdir()
    (run_dir / "fsapp.toml").write_text(textwrap.dedent(f"""\
        [esl]
        password = "ClueCon"
        [store]
        spool = "{run_dir}/spool"
        [store.connections.main]
        odbc = "Driver={{SQLite3}};Database={run_dir}/fsapp.db"
        [sounds]
        dir = "{ROOT}/sounds"
        [flows]
        recordings = "{run_dir}/recordings"
        node_visits = false
        """))
    cfg = config.load(run_dir / "fsapp.toml")
    store = Store.from_config(cfg)
    store.migrate()
    gateways = f", gateways: {{carrier1: {args.gateway_limit}}}" if args.gateway_limit else ""
    campaign, problems = parse_text(textwrap.dedent(f"""\
        campaign: bench
        flow: outage_notice
        contacts: {{csv: unused.csv}}
        calendar: always
        pacing: {{calls_per_minute: 100000, max_concurrent: {args.concurrent}{gateways}}}
        dial: {{template: "sofia/gateway/{{gateway}}/{{number}}", gateway: carrier1, timeout: 30s,
               max_duration: 5m}}
        retry: {{max_attempts: 1}}
        completed_when: heard
        """), "bench.yaml")
    assert not problems, problems
    calendar = loads_calendars('calendars:\n  always:\n    timezone: UTC\n    weekly: {daily: "00:00-24:00"}\n')
    if args.state == "redis":
        from fsapp.campaign.redis_state import RedisStates
        prefix = f"fsapp-bench-campaign-{uuid.uuid4().hex[:8]}:"
        states = RedisStates.from_url(args.redis, prefix)
    else:
        prefix, states = None, SQLiteStates(run_dir / "state.db")
    states.add_contacts("bench", [Contact(f"c{i}", number(i), "", {"district": "7", "ends_at": "18:00"})
                                  for i in range(args.contacts)], time.time())
    states.set_control("bench", "running", time.time())
    flows = flow_handler(str(ROOT / "ivr_flows"), cfg)
    esl = InboundClient("127.0.0.1", port, "ClueCon", command_timeout=60).start()
    dialer = Dialer(campaign, states, esl, flows, calendar["always"], store=store, base_dir=run_dir).start()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    why = dialer.run(exit_when_done=True)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    attempts = states.attempts("bench")
    outcomes: dict = {}
    for a in attempts:
        outcomes[a["outcome"]] = outcomes.get(a["outcome"], 0) + 1
    dialer.close()
    esl.stop()
    store.close()
    if prefix:
        keys = list(states.redis.scan_iter(match=prefix + "*", count=1000))
        for i in range(0, len(keys), 500):
            states.redis.delete(*keys[i:i + 500])
    states.close()
    return {"why": why, "wall_s": wall, "attempts": len(attempts), "cpu_ms_per_attempt": cpu * 1000 / len(attempts),
            "attempts_per_s": len(attempts) / wall, "outcomes": outcomes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=10000)
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale", type=float, default=20.0)
    parser.add_argument("--state", choices=("sqlite", "redis"), default="sqlite")
    parser.add_argument("--redis", default=os.environ.get("FSAPP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--gateway-limit", type=int, default=0, help="calls on carrier1 at most (0: no limit)")
    parser.add_argument("--serve-emulator", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_emulator:
        serve_emulator(args.contacts, args.scale)
        return
    work = Path(tempfile.mkdtemp(prefix="fsapp-bench-campaign-"))
    results = []
    try:
        for _ in range(args.repeat):
            child = subprocess.Popen([sys.executable, __file__, "--serve-emulator", "--contacts", str(args.contacts),
                                      "--scale", str(args.scale)], stdout=subprocess.PIPE, text=True)
            try:
                port = int(child.stdout.readline())
                result = run_once(args, port, work)
            finally:
                child.kill()
                child.wait()
            results.append(result)
            print(json.dumps(result), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{args.contacts} contacts, {args.concurrent} concurrent, state {args.state}, "
          f"gateway limit {args.gateway_limit or 'none'}, emulated time x{args.scale:g}, "
          f"{args.repeat} runs (min / median / max):")
    for key, label in (("wall_s", "wall time, s"), ("attempts_per_s", "attempts per second"),
                       ("cpu_ms_per_attempt", "dialer CPU per attempt, ms")):
        values = [r[key] for r in results]
        print(f"  {label:30} {min(values):8.2f} {statistics.median(values):8.2f} {max(values):8.2f}")


if __name__ == "__main__":
    main()
