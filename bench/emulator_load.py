"""Load bench of the emulator: how many concurrent channels one process sustains.

    .venv/bin/python bench/emulator_load.py [--channels 1000] [--hold 20] [--repeat 3]

Each call is a loopback pair (2 channels): a scripted caller dials a Socket route; a
small raw ESL app in the same process answers it and plays 1 s tones back to back
until the caller hangs up after --hold seconds; --repeat runs, min / median / max of
the CPU (this process: emulator and app) per channel-second and of the media timing.
There is no baseline to compare with (an earlier version compared with itself at 100
channels, which says nothing): the figures are absolute.

A channel counts as sustained when its call stayed up for the whole hold and the
caller heard at least 80 % of the tones it should have (the emulator kept real time).
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
from gevent.server import StreamServer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fair import spread  # noqa: E402

from fsapp.sim import CallerScript, Hangup, Socket, Switch  # noqa: E402

TONE_S = 1.0


class ToneApp:
    """Minimal outbound ESL app: connect, myevents, answer, then tones until hangup."""

    def __init__(self):
        self.server = StreamServer(("127.0.0.1", 0), self.handle, backlog=2048)
        self.server.start()
        self.port = self.server.server_port

    def handle(self, sock, addr):
        buf = b""

        def send(cmd: str) -> None:
            sock.sendall(cmd.encode() + b"\n\n")

        def play():
            send("sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
                 f"execute-app-arg: tone_stream://%({int(TONE_S * 1000)},0,440)\nevent-lock: true")

        send("connect")
        send("myevents")
        send("sendmsg\ncall-command: execute\nexecute-app-name: answer\nevent-lock: true")
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                buf += data
                # Cheap framing: count completed playbacks / answer, stop on hangup.
                while b"\n\n" in buf:
                    head, _, rest = buf.partition(b"\n\n")
                    length = 0
                    for line in head.split(b"\n"):
                        if line.startswith(b"Content-Length: "):
                            length = int(line[16:])
                    if len(rest) < length:
                        break
                    body, buf = rest[:length], rest[length:]
                    if b"Event-Name: CHANNEL_EXECUTE_COMPLETE" in body:
                        if b"Application: answer" in body or b"Application: playback" in body:
                            play()
                    elif b"Event-Name: CHANNEL_HANGUP_COMPLETE" in body or b"disconnect-notice" in head:
                        return
        except OSError:
            return


def run(channels: int, hold: float, ramp: float) -> dict:
    calls = channels // 2
    app = ToneApp()
    sw = Switch(esl=("127.0.0.1", 0)).start()
    sw.dialplan.add(r"^7000$", Socket(f"127.0.0.1:{app.port} async full"))
    ru0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    callers = []
    for i in range(calls):
        callers.append(sw.place_call(CallerScript(dial="7000", caller_id=f"1380000{i:04d}",
                                                  steps=[Hangup(at=hold)])))
        gevent.sleep(ramp / calls)
    peak = 0
    while time.monotonic() - t0 < hold * 0.8:
        peak = max(peak, len(sw.channels))
        gevent.sleep(0.5)
    reports = [c.wait(timeout=hold + 60) for c in callers]
    wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    sw.stop()
    app.server.stop()
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    expected_tones = hold / TONE_S   # each caller stays `hold` s after its own start
    good = [r for r in reports if r.hung_up_by == "caller" and len(r.heard) >= 0.8 * expected_tones]
    return {"channels": channels, "sustained": 2 * len(good), "peak": peak, "wall_s": wall, "cpu_s": cpu,
            "cpu_pct": 100 * cpu / wall, "cpu_ms_per_channel_s": 1000 * cpu / max(1, channels * hold),
            "heard_avg": sum(len(r.heard) for r in reports) / max(1, len(reports)),
            "expected_tones": expected_tones, "maxrss_mb": ru1.ru_maxrss / 1024}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--channels", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3, help="runs (>= 3: min/median/max)")
    ap.add_argument("--hold", type=float, default=20.0)
    ap.add_argument("--ramp", type=float, default=5.0)
    args = ap.parse_args()
    if args.ramp >= args.hold:
        ap.error("--ramp must be shorter than --hold")
    if args.repeat < 3:
        ap.error("--repeat must be >= 3")
    print(f"{'channels':>9} {'sustained':>9} {'peak':>5} {'cpu%':>6} {'cpu ms/ch·s':>11} "
          f"{'tones heard/expected':>21} {'maxrss MB':>9}")
    results = []
    for _ in range(args.repeat):
        r = run(args.channels, args.hold, args.ramp)
        results.append(r)
        print(f"{r['channels']:>9} {r['sustained']:>9} {r['peak']:>5} {r['cpu_pct']:>6.1f} "
              f"{r['cpu_ms_per_channel_s']:>11.3f} {r['heard_avg']:>10.1f}/{r['expected_tones']:<10.1f} "
              f"{r['maxrss_mb']:>9.1f}")
        sys.stdout.flush()
    print(f"min / median / max over {args.repeat} runs: CPU ms per channel-second "
          f"{spread([r['cpu_ms_per_channel_s'] for r in results], fmt='{:.3f}')}, tones heard "
          f"{spread([r['heard_avg'] for r in results], fmt='{:.1f}')} of {results[0]['expected_tones']:.1f}")
    worst = min(r["sustained"] for r in results)
    ok = worst >= min(args.channels, 500)
    print("PASS" if ok else "FAIL", f"(sustained at least {worst} of {args.channels} channels in every run)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
