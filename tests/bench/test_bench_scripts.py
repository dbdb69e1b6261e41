"""The issue-14 benchmarks run (small counts, against the emulator): they measure nothing
here; these tests only check that a user can run them and that their counts hold."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args, timeout=300):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_real_switch_runs_against_the_emulator():
    proc = run("bench/real_switch.py", "--emulator", "--calls", "4", "--concurrency", "2", "--runs", "3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "say nothing about FreeSWITCH's CPU" in proc.stdout
    assert re.search(r"^native calls/s .* lost 0/0", proc.stdout, re.M)
    assert re.search(r"^fsapp  calls/s .* lost 0/0", proc.stdout, re.M)
    assert re.search(r"^lean   calls/s .* lost 0/0", proc.stdout, re.M), proc.stdout


def test_switch_probes_run_against_the_emulator():
    """The timeline of a pipelined answer: the playback is sent before the answer completed."""
    proc = run("bench/switch_probes.py", "timeline", "--emulator", "--calls", "3", "--pipelined",
               "--listen", "127.0.0.1:0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "answer pipelined" in proc.stdout and re.search(r"^  socket closed ", proc.stdout, re.M), proc.stdout
    sent = {m.group(1): float(m.group(2)) for m in re.finditer(r"^  (.+?) +([0-9.]+) / ", proc.stdout, re.M)}
    assert sent["answer sent (not waited for)"] <= sent["playback sent"] < sent["playback CHANNEL_EXECUTE_COMPLETE"]
    proc = run("bench/switch_probes.py", "bytes", "--emulator", "--commands", "20")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 x 20 commands of 10 and 410 bytes sent" in proc.stdout


def test_switch_probes_idle_runs_against_the_emulator():
    proc = run("bench/switch_probes.py", "idle", "--emulator", "--calls", "3", "--listen", "127.0.0.1:0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 x 3 calls of 5 s each side" in proc.stdout, proc.stdout


def test_real_switch_hotline_runs_against_the_emulator():
    """Both sides complete the hotline's status lookup (the native one replays the
    applications recorded from the flow)."""
    proc = run("bench/real_switch_hotline.py", "--emulator", "--calls", "2", "--concurrency", "2", "--runs", "3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^native lost 0/0", proc.stdout, re.M) and re.search(r"^fsapp  lost 0/0", proc.stdout, re.M), \
        proc.stdout


def test_real_switch_hotline_dialplan_is_what_the_flow_sends():
    """The native extension holds the applications fsapp sent on the path, in order: the
    answer, the greeting, the four questions and the status read out (the serial digit by
    digit), then the hangup; the socket extensions point at --listen and the port after."""
    proc = run("bench/real_switch_hotline.py", "--print-dialplan", "--listen", "10.0.0.5:8096")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    native = proc.stdout.split('name="fsapp_hotline_native"')[1].split("</extension>")[0]
    apps = re.findall(r'application="([a-z_]+)"', native)
    assert apps[0] == "answer" and apps[-1] == "hangup" and apps.count("play_and_get_digits") == 4, apps
    questions = re.findall(r'play_and_get_digits" data="[^"]*?/([a-z_]+)\.wav', native)
    assert questions == ["language_offer", "main_menu", "enter_serial", "after_menu"], questions
    assert "say/zh/2.wav!" in native and "status/closed.wav" in native, native
    assert '<action application="socket" data="10.0.0.5:8096 async full"/>' in proc.stdout
    assert '<action application="socket" data="10.0.0.5:8097 async full"/>' in proc.stdout


def test_real_switch_prints_the_dialplan():
    proc = run("bench/real_switch.py", "--print-dialplan", "--listen", "10.0.0.5:8094")
    assert proc.returncode == 0
    assert '<action application="socket" data="10.0.0.5:8094 async full"/>' in proc.stdout
    assert 'application="play_and_get_digits"' in proc.stdout


def test_call_cost_counts_below_issue_14s_baseline():
    """Issue 14 measured about 23 commands per call for the simple IVR; the hotline's
    status lookup sent 24 before prompt lists became one playback. Head bytes, which
    FreeSWITCH reads one recv() per byte, were 628 and 2,505 before long arguments went
    as bodies."""
    proc = run("bench/call_cost.py", "--calls", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    simple = re.search(r"^simple +commands/call min/median/max (\d+)/", proc.stdout, re.M)
    hotline = re.search(r"^hotline +commands/call min/median/max (\d+)/", proc.stdout, re.M)
    assert simple and int(simple.group(1)) <= 8, proc.stdout
    assert hotline and int(hotline.group(1)) <= 13, proc.stdout
    heads = [int(h) for h in re.findall(r"^ +bytes sent/call: headers (\d+)/", proc.stdout, re.M)]
    assert len(heads) == 2 and heads[0] < 628 and heads[1] < 2505, proc.stdout


def test_hotline_load_runs_and_stores_every_row():
    """Every call completes and leaves its call record and its node visits (written, or
    spooled: the count of spooled rows is printed too)."""
    proc = run("bench/hotline_load.py", "--calls", "2", "--repeat", "3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^hotline status lookup, 2 calls at once, 3 runs: .* lost 0 / 0 / 0$", proc.stdout, re.M)
    stored = re.search(r"^rows stored: (\d+) call records, (\d+) node visits; spooled (\d+)$", proc.stdout, re.M)
    assert stored, proc.stdout
    records, visits, spooled = map(int, stored.groups())
    assert records == 6 and spooled == 0, proc.stdout
    assert visits > 6 * 10, proc.stdout     # the status path passes more than 10 nodes per call


def test_call_end_writes_runs_both_sides():
    """Both sides write every row (the script asserts each status) and report their figures."""
    proc = run("bench/call_end_writes.py", "--calls", "5", "--repeat", "3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for side in ("multi", "each"):
        assert re.search(rf"^sqlite +{side} +CPU ms per call \(5 calls ending at once, 3 runs\): ", proc.stdout, re.M)
    assert re.search(r"^sqlite +multi / each, per round: [\d.]+ [\d.]+ [\d.]+$", proc.stdout, re.M)


def test_store_bench_runs_each_pair():
    proc = run("bench/store.py", "--ops", "3", "--repeat", "3", "--db", "sqlite")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for what in ("query", "write"):
        assert re.search(rf"^sqlite +{what} +CPU ms per op: direct [\d.]+ / [\d.]+ / [\d.]+ +store [\d.]+ / [\d.]+ / "
                         rf"[\d.]+ +store/direct per round [\d.]+ [\d.]+ [\d.]+$", proc.stdout, re.M), proc.stdout
    assert re.search(r"^sqlite +spooled CPU ms per op: ", proc.stdout, re.M), proc.stdout
