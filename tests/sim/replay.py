"""Replays a FreeSWITCH wire capture against the emulator and compares the replies.

The capture's app->fs messages are sent at their recorded times (divided by a time
scale, with the emulator's clock scaled the same way), capture UUIDs replaced by
the emulator's. The fs->app messages of both are reduced to comparable keys per
connection and aligned; what may legitimately differ is listed in ALLOW below, each
entry with the reason.
"""
from __future__ import annotations

import difflib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import gevent

from fsapp.sim import Apps, Echo, RealClock, Socket, Switch

from .eslclient import Conn, Msg, OutboundServer

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# ---------------------------------------------------------------------------------
# ALLOW-LIST: what legitimately differs between the capture and the emulator.
# ---------------------------------------------------------------------------------
ALLOW = {
    # Values that are per run: never compared, only the header names (and order).
    "values_never_compared": "UUIDs, Core-UUID, hostnames, IP addresses, dates, timestamps, "
                             "Event-Sequence, session ids, durations in status/HEARTBEAT",
    # Events whose presence depends on FreeSWITCH thread timing (README obs. 31/32):
    # CHANNEL_PARK was missing in one capture; CHANNEL_DESTROY is never delivered on the
    # session's own socket but may appear on inbound listeners.
    "optional_events": {"CHANNEL_PARK", "CHANNEL_DESTROY"},
    # Observation 31: the linger notice came right after CHANNEL_HANGUP in two captures and
    # after CHANNEL_HANGUP_COMPLETE in another; only its presence is compared.
    "linger_notice_position": "not compared",
    # How many replies an event may be displaced by relative to the capture: the replaying
    # test sends commands from its own greenlets and cannot hold sub-frame (20 ms)
    # timing on a loaded machine.
    "event_reply_jitter": 1,
    # Observation 28: after an invalid application FreeSWITCH lost the hangup events on
    # the socket (a race); the emulator delivers them, as in the trial run.
    "after_invalid_app_extra": {"CHANNEL_HANGUP", "CHANNEL_UNPARK", "CHANNEL_EXECUTE_COMPLETE",
                                "CHANNEL_STATE", "CHANNEL_HANGUP_COMPLETE"},
    # The capture cut the `event ... ALL` window to its first 30 messages (README
    # "Trimmed"); events inside that window are not compared, only the replies.
    "trimmed_all_window": True,
    # callcenter_config list bodies: epoch columns (last_bridge_start, joined_epoch, ...)
    # are wall-clock seconds of the run; compared as "set" (<epoch>) or 0, never by value.
    "callcenter_epochs": "10-digit epoch values in callcenter_config list rows",
    # ... and the columns computed from them in whole seconds (member score = now - joined,
    # agent talk_time = bridge end - start): 1 or 2 depending on where the second boundary
    # fell in the run. Compared as "a number", not by value.
    "callcenter_second_counts": {"score", "talk_time"},
    # Callcenter replays time each command from the message before it (ANCHOR_LEAD_S);
    # what is compared is unchanged.
    "anchored_timing": "callcenter captures only",
    # log/data lines come from FreeSWITCH's logging thread, not in step with the events
    # (say_zh_money: a say's CHANNEL_EXECUTE_COMPLETE arrives after its first log line
    # and before the other 17): they are compared as their own ordered sequence (level,
    # source file/function/line and text, without the time stamp and CPU figure) and do
    # not count as replies when placing events.
    "log_lines_own_sequence": True,
    # say_zh_money's operator edited the phrase config (a temporary lang/zh/zh.xml) before
    # each `api reloadxml`; the replay makes the same change to sw.say_languages, and
    # points the capture's /tmp/s2_say_sounds (50 ms silent WAVs) at a folder it makes.
    "say_zh_money_setup": "languages at reloadxml, sound folder",
    # Channel variables FreeSWITCH sets from internals the emulator does not model
    # (codec negotiation, XML dialplan bookkeeping, media statistics).
    "variables_not_emulated": {
        "variable_DP_MATCH", "variable_sip_", "variable_rtp_", "variable_last_bridge_proto_specific_hangup_cause",
        "variable_progresssec", "variable_waitsec", "variable_progress_mediasec", "variable_flow_billsec",
        "variable_progressmsec", "variable_waitmsec", "variable_progress_mediamsec", "variable_flow_billmsec",
        "variable_progressusec", "variable_waitusec", "variable_progress_mediausec", "variable_flow_billusec",
        "variable_answerusec", "variable_profile_start_stamp", "variable_profile_start_epoch",
        "variable_profile_start_uepoch", "variable_bridge_stamp", "variable_bridge_epoch",
        "variable_bridge_uepoch", "variable_last_hold_epoch", "variable_last_hold_uepoch",
        "variable_hold_accum_seconds", "variable_hold_accum_usec", "variable_hold_accum_ms",
        "variable_resurrect_epoch", "variable_resurrect_uepoch", "variable_progress_epoch",
        "variable_progress_uepoch", "variable_progress_media_epoch", "variable_progress_media_uepoch",
        "variable_current_application_response",
        "variable_bridge_hangup_cause", "variable_originate_early_media", "variable_originated_legs",
        "variable_last_sent_callee_id_name", "variable_last_sent_callee_id_number",
        "variable_channel_name", "variable_is_loopback", "variable_export_vars",
    },
}

CHECK_VARIABLE_ORDER = True
# Callcenter replays send each command as long after the message that preceded it as the
# capture did (not at its absolute time): the loopback-agent capture sends
# `queue list members` 0.4 s into a 0.5 s agent playback that starts after two 5 s
# timeouts and an epoch-second boundary, which absolute times cannot hit reliably.
ANCHOR_LEAD_S = 1.5

# The capture system's dialplan (README "Dialplan additions"), rebuilt on the emulator.
PREAMBLE = [("set", "open=true"),
            ("log", "CRIT WARNING WARNING WARNING WARNING WARNING WARNING WARNING WARNING WARNING "),
            ("log", "CRIT Open /usr/local/freeswitch/etc/freeswitch/vars.xml and change the default_password."),
            ("log", "CRIT Once changed type 'reloadxml' at the console."),
            ("log", "CRIT WARNING WARNING WARNING WARNING WARNING WARNING WARNING WARNING WARNING ")]


@dataclass
class Rec:
    t: float
    dir: str
    conn: str
    raw: str
    eof: bool


def load(path: Path) -> list[Rec]:
    out = []
    for line in path.read_text().splitlines():
        m = json.loads(line)
        out.append(Rec(m["t"], m["dir"], m["conn"], m["raw"], bool(m.get("eof"))))
    return out


def parse_raw(raw: str) -> Msg:
    head, _, body = raw.partition("\n\n")
    headers = [tuple(l.split(": ", 1)) if ": " in l else (l, "") for l in head.split("\n")]
    return Msg(raw.encode(), headers, body)


def build_switch(scale: float, port: int, heartbeat: float) -> Switch:
    sw = Switch(password="ClueCon", esl=("127.0.0.1", 0), heartbeat=heartbeat,
                clock=RealClock(scale), hostname="fs1")
    sw.dialplan.preamble = list(PREAMBLE)
    sw.dialplan.add(r"^7000$", Socket(f"127.0.0.1:{port} async full"))
    sw.dialplan.add(r"^7001$", Socket(f"127.0.0.1:{port} async"))
    sw.dialplan.add(r"^7100$", Apps([("answer", ""), ("playback", "tone_stream://%(500,0,440)"),
                                     ("sleep", "60000"), ("hangup", "")]))
    sw.dialplan.add(r"^9196$", Echo())
    # mod_callcenter captures (README "Dialplan additions" and callcenter.conf.xml)
    sw.dialplan.add(r"^7110$", Apps([("answer", ""), ("playback", "tone_stream://%(500,0,440)"),
                                     ("bridge", "null/agent1")]))
    sw.dialplan.add(r"^7200$", Apps([("answer", ""), ("callcenter", "support@default")]))
    cc = sw.load_module("mod_callcenter")
    cc.add_queue("support@default", strategy="longest-idle-agent", discard_abandoned_after=60)
    cc.add_agent("agent1@default", contact="loopback/7100", status="Logged Out", max_no_answer=3,
                 wrap_up_time=5, reject_delay_time=5, busy_delay_time=5)
    cc.add_tier("support@default", "agent1@default", level=1, position=1)
    return sw


def seed_agent_history(sw: Switch) -> None:
    """callcenter_queue_loopback_agent_fail was recorded right after callcenter_queue on the
    same FreeSWITCH (README: the DB was reset before *both*), so agent1 starts with that
    call in its history (its first `agent list` shows it): one answered call, 2 s of talk,
    bridge ended 2.3 s before the capture began. Its wrap-up (5 s) is why the first offer
    comes 3.8 s after the member joined; the same history is replayed here, relative to
    the emulator's clock."""
    now = int(sw.clock.now())
    agent = sw.modules["mod_callcenter"].agents["agent1@default"]
    agent.last_offered_call, agent.last_bridge_start, agent.last_bridge_end = now - 5, now - 4, now - 2
    agent.last_status_change, agent.calls_answered, agent.talk_time = now - 2, 1, 2


# say_zh_money: the capture's folder of 50 ms silent WAVs (README, "say_zh_money").
SAY_SOUNDS = "/tmp/s2_say_sounds"
SAY_SOUND_FILES = ([f"digits/{n}" for n in (*range(10), 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 1000, 10000,
                                           "hundred", "thousand", "million")]
                   + [f"currency/{w}" for w in ("dollar", "dollars", "cent", "cents", "and", "yuan", "jiao",
                                                "fen", "li")])


def make_say_sounds(folder: Path) -> None:
    import wave
    for name in SAY_SOUND_FILES:
        path = folder / f"{name}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(bytes(2 * 400))


# ---- keys for comparison ------------------------------------------------------------
EPOCH = re.compile(r"(?<![0-9])1[0-9]{9}(?![0-9])")


def _norm(text: str) -> str:
    return UUID.sub("<uuid>", text)


def _norm_cc(body: str) -> str:
    """callcenter_config list rows: mask epochs and whole-second counts
    (ALLOW["callcenter_epochs"], ALLOW["callcenter_second_counts"])."""
    lines = EPOCH.sub("<epoch>", _norm(body)).split("\n")
    columns = lines[0].split("|")
    masked = {i for i, c in enumerate(columns) if c in ALLOW["callcenter_second_counts"]}
    for n, line in enumerate(lines[1:], 1):
        cells = line.split("|")
        if len(cells) == len(columns):
            lines[n] = "|".join("<seconds>" if i in masked and c.isdigit() else c for i, c in enumerate(cells))
    return "\n".join(lines)


def key(m: Msg | None) -> tuple:
    if m is None:
        return ("eof",)
    ct = m.content_type
    if ct == "command/reply":
        if m.h.get("Event-Name") == "CHANNEL_DATA":
            return ("connect", m.h.get("Reply-Text"), m.h.get("Control"))
        return ("reply", _norm(m.h.get("Reply-Text", "")))
    if ct == "api/response":
        body = m.body
        if body.startswith("UP "):
            return ("api", "status", len(body.splitlines()))
        if body.startswith("{"):
            data = json.loads(body)
            return ("api", "json", data.get("row_count"))
        if body.startswith(("name|instance_id|", "queue|instance_id|", "queue|agent|")):
            return ("api", _norm_cc(body))
        return ("api", _norm(body))
    if ct == "text/disconnect-notice":
        return ("notice", m.h.get("Content-Disposition", ""), m.body)
    if ct == "log/data":
        text = m.body.split("] ", 1)[-1]   # drop "<date> <time> <idle cpu>% [LEVEL] "
        return ("log", m.h.get("Log-Level"), m.h.get("Log-File"), m.h.get("Log-Func"), m.h.get("Log-Line"),
                m.h.get("User-Data", ""), text.replace(SAY_SOUNDS, "<say sounds>"))
    ev = m.event
    if ev is not None:
        return ("event", ev.get("Event-Name"), ev.get("Application", ""),
                ev.get("Application-Response", ""), ev.get("Hangup-Cause", ""),
                ev.get("DTMF-Digit", ""), ev.get("Answer-State", ""), (m.body.split("\n\n", 1) + [""])[1][:3]
                if ct == "text/event-plain" else ev.get("_body", "")[:3], ev.get("CC-Action", ""))
    return ("other", ct)


# ---- driving --------------------------------------------------------------------------
class Replay:
    def __init__(self, capture: Path, scale: float = 2.0):
        self.capture = capture
        self.scale = scale
        self.recs = load(capture)
        heartbeats = [r.t for r in self.recs if r.dir == "fs->app" and "Event-Name: HEARTBEAT" in r.raw[:400] or '"Event-Name":"HEARTBEAT"' in r.raw[:400]]
        self.heartbeat = (heartbeats[0] - 0.3) if heartbeats else 3600.0
        self.map: dict[str, str] = {}
        self.got: dict[str, list] = {}
        self.conns: dict[str, Conn] = {}
        self.closed_by_app: set[str] = set()
        self.countable_times: dict[str, list[float]] = {}
        self._exp_by_key: dict[str, dict] = {}
        self._got_key_counts: dict[str, dict] = {}
        self.anchored = capture.stem.startswith("callcenter")

    def expected(self) -> dict[str, list[Msg | None]]:
        out: dict[str, list] = {}
        for r in self.recs:
            if r.dir == "fs->app":
                out.setdefault(r.conn, []).append(None if r.eof else parse_raw(r.raw))
        return out

    def run(self) -> dict[str, list[Msg | None]]:
        srv = OutboundServer()
        sw = build_switch(self.scale, srv.port, self.heartbeat).start()
        if self.capture.stem == "callcenter_queue_loopback_agent_fail":
            seed_agent_history(sw)
        self.expected_msgs = self.expected()
        sounds = None
        if self.capture.stem == "say_zh_money":   # ALLOW["say_zh_money_setup"]
            import tempfile
            sounds = tempfile.TemporaryDirectory(prefix="fsapp-say-sounds-")
            make_say_sounds(Path(sounds.name))
        reloads = 0
        try:
            self._align_phase()
            t0 = time.monotonic()
            needs = self._needs()
            anchors = self._anchors() if self.anchored else {}
            for i, r in enumerate(self.recs):
                if r.dir != "app->fs":
                    continue
                if i in anchors:
                    gevent.sleep(max(0.0, t0 + (r.t - ANCHOR_LEAD_S) / self.scale - time.monotonic()))
                else:
                    gevent.sleep(max(0.0, t0 + r.t / self.scale - time.monotonic()))
                conn = self._conn(r.conn, sw, srv)
                self._wait_for(needs[i], deadline=time.monotonic() + 3.0 + (ANCHOR_LEAD_S if i in anchors else 0))
                if i in anchors:
                    self._sleep_after_anchor(*anchors[i], r.t)
                if r.eof:
                    self.closed_by_app.add(r.conn)
                    conn.close()
                    continue
                raw = UUID.sub(lambda m: self.map.get(m.group(0), m.group(0)), r.raw)
                if sounds is not None:
                    raw = raw.replace(SAY_SOUNDS, sounds.name)
                    if raw.startswith("api reloadxml"):
                        # first reload: the temporary zh languages are in; second: gone again
                        from fsapp.sim.phrases import DEFAULT_LANGUAGES, ZH_LANGUAGES
                        reloads += 1
                        sw.say_languages = {**DEFAULT_LANGUAGES, **(ZH_LANGUAGES if reloads == 1 else {})}
                conn.send(raw)
            last = max(r.t for r in self.recs)
            gevent.sleep(max(0.0, t0 + last / self.scale - time.monotonic()))
            self._wait_for(needs["end"], deadline=time.monotonic() + 5.0)
            gevent.sleep(0.3)  # trailing events that are not counted
        finally:
            sw.stop()
            srv.stop()
            if sounds is not None:
                sounds.cleanup()
        return self.got

    def _anchors(self) -> dict[int, tuple[str, int, float]]:
        """app->fs record i -> (conn, n, t): the n-th countable fs->app message of conn
        (received at capture time t) is the last one before i in the capture."""
        counts: dict[str, int] = {}
        last = None
        out = {}
        for i, r in enumerate(self.recs):
            if r.dir == "app->fs":
                if last is not None:
                    out[i] = last
                continue
            if self._countable(None if r.eof else parse_raw(r.raw), False):
                counts[r.conn] = counts.get(r.conn, 0) + 1
                last = (r.conn, counts[r.conn] - 1, r.t)
        return out

    def _sleep_after_anchor(self, conn: str, n: int, t_anchor: float, t_send: float) -> None:
        """Send as long after the emulator's n-th message as the capture sent after its own
        (ALLOW["anchored_timing"])."""
        times = self.countable_times.get(conn, [])
        if len(times) > n:
            gevent.sleep(max(0.0, times[n] + (t_send - t_anchor) / self.scale - time.monotonic()))

    def _align_phase(self) -> None:
        """mod_callcenter works in whole epoch seconds (a member is offered in the second
        after it joined; wrap-up ends at last_bridge_end + wrap_up_time). Start the callcenter
        replays at the capture's sub-second phase so those second boundaries fall at the same
        offsets as in the capture."""
        if not self.capture.stem.startswith("callcenter"):
            return
        for r in self.recs:
            m = re.search(r"Event-Date-Timestamp: (\d{16})", r.raw)
            if r.dir == "fs->app" and m:
                phase = (int(m.group(1)) / 1e6 - r.t) % 1.0
                break
        else:
            return
        gevent.sleep((phase - time.time()) % 1.0)

    def _needs(self) -> dict[int, dict[str, int]]:
        """Before app->fs record i: how many countable fs->app messages each connection
        had delivered in the capture. The replay waits for the same number, so a command
        is never sent before what it reacted to (wall-clock jitter would reorder them).
        Events inside an `event ... ALL` window and optional events are not counted."""
        counts: dict[str, int] = {}
        in_all: dict[str, bool] = {}
        needs = {}
        for i, r in enumerate(self.recs):
            if r.dir == "app->fs":
                needs[i] = dict(counts)
                if re.match(r"event \w+ ALL", r.raw):
                    in_all[r.conn] = True
                elif r.raw.startswith("noevents"):
                    in_all[r.conn] = False
                continue
            if self._countable(None if r.eof else parse_raw(r.raw), in_all.get(r.conn, False)):
                counts[r.conn] = counts.get(r.conn, 0) + 1
        needs["end"] = dict(counts)
        return needs

    @staticmethod
    def _countable(m: Msg | None, in_all_window: bool) -> bool:
        if m is None:
            return False
        k = key(m)
        if k[0] == "event":
            return not in_all_window and k[1] not in ALLOW["optional_events"] and k[1] != "HEARTBEAT"
        return True

    def _wait_for(self, need: dict[str, int], deadline: float) -> None:
        while time.monotonic() < deadline:
            # counted once per message as it arrives (_collect), not re-parsed on every poll
            if all(len(self.countable_times.get(c, ())) >= n for c, n in need.items()):
                return
            gevent.sleep(0.001)


    def _conn(self, name: str, sw, srv) -> Conn:
        if name not in self.conns:
            conn = Conn.connect(sw.esl_port) if name == "inbound" else srv.accept(timeout=10)
            self.conns[name] = conn
            self.got[name] = []
            gevent.spawn(self._collect, name, conn)
            gevent.sleep(0.05)
        return self.conns[name]

    def _collect(self, name: str, conn: Conn) -> None:
        while True:
            m = conn.q.get()
            if m is None and name in self.closed_by_app:
                return  # our own close, not FreeSWITCH's
            self.got[name].append(m)
            if self._countable(m, False):
                # When it was sent: the event's own timestamp (the emulator's clock is real
                # time in these replays); the reader may lag behind a burst of events.
                stamp = (m.event or {}).get("Event-Date-Timestamp", "") if m.event is not None else ""
                sent = time.monotonic()
                if stamp.isdigit() and self.scale == 1.0:
                    sent = min(sent, time.monotonic() - (time.time() - int(stamp) / 1e6))
                self.countable_times.setdefault(name, []).append(sent)
            self._learn(name, m)
            if m is None:
                return

    def _learn(self, name: str, m: Msg | None) -> None:
        """Map capture UUIDs to the emulator's from the k-th message of the same key."""
        if m is None:
            return
        k = key(m)
        # Keys are computed once per message (parsing every event again on each arrival
        # made the reader lag ~10 ms per message behind a burst of events).
        if name not in self._exp_by_key:
            by_key: dict = {}
            for x in self.expected_msgs.get(name, []):
                if x is not None:
                    by_key.setdefault(key(x), []).append(x)
            self._exp_by_key[name] = by_key
        seen = self._got_key_counts.setdefault(name, {})
        seen[k] = seen.get(k, 0) + 1
        cands = self._exp_by_key[name].get(k, [])
        if seen[k] > len(cands):
            return
        ref = cands[seen[k] - 1]
        for a, b in zip(_ids(ref), _ids(m)):
            self.map.setdefault(a, b)


def _ids(m: Msg) -> list[str]:
    ids = []
    if m.content_type == "api/response" and m.body.startswith("{"):
        rows = sorted(json.loads(m.body).get("rows", []), key=lambda r: r["name"])
        return [r["uuid"] for r in rows]
    fields = m.event or m.h
    for f in ("Unique-ID", "Job-UUID", "variable_other_loopback_leg_uuid", "Controlled-Session-UUID"):
        if fields.get(f):
            ids.append(fields[f])
    if m.content_type == "text/event-plain":
        ids += UUID.findall(m.body.split("\n\n", 1)[1] if "\n\n" in m.body else "")
    elif m.content_type == "text/event-json":
        ids += UUID.findall(m.event.get("_body", ""))
    elif m.content_type == "api/response":
        ids += UUID.findall(m.body)
    return ids


# ---- comparing ------------------------------------------------------------------------
@dataclass
class Diff:
    problems: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.problems.append(text)


def compare(capture_name: str, sent: list[Rec], expected: dict, got: dict) -> Diff:
    diff = Diff()
    for conn, exp_msgs in expected.items():
        got_msgs = got.get(conn, [])
        exp_keys, got_keys = [key(m) for m in exp_msgs], [key(m) for m in got_msgs]
        all_windows = _all_windows(sent, conn)
        exp_skip = _in_windows(exp_keys, all_windows)
        got_skip = _in_windows(got_keys, all_windows)
        invalid_app = any("execute-app-name: no_such_app" in r.raw for r in sent if r.conn == conn)
        # Optional events and the linger notice (whose position is not fixed, obs. 31)
        # are taken out before aligning; the linger notice must still be there.
        exp_skip = [s or _floating(k) for s, k in zip(exp_skip, exp_keys)]
        got_skip = [s or _floating(k) for s, k in zip(got_skip, got_keys)]
        lingers = (exp_keys.count(("notice", "linger", "")), got_keys.count(("notice", "linger", "")))
        if lingers[0] != lingers[1]:
            diff.add(f"{conn}: {lingers[0]} linger notices expected, got {lingers[1]}")
        ek = [k for k, s in zip(exp_keys, exp_skip) if not s]
        em = [m for m, s in zip(exp_msgs, exp_skip) if not s]
        gk = [k for k, s in zip(got_keys, got_skip) if not s]
        gm = [m for m, s in zip(got_msgs, got_skip) if not s]
        # Replies and events are aligned separately, each in order; then every matched
        # event must sit among the replies where the capture has it, give or take one
        # reply (the replaying test's own scheduling jitter can swap an event with a
        # reply to a command sent 0.3 ms after the one that caused it).
        def split(keys, msgs):
            replies, events, logs = [], [], []
            for k, m in zip(keys, msgs):
                if k[0] == "event":
                    events.append((k, m, len(replies)))
                elif k[0] == "log":   # ALLOW["log_lines_own_sequence"]
                    logs.append((k, m))
                else:
                    replies.append((k, m))
            return replies, events, logs

        e_rep, e_ev, e_log = split(ek, em)
        g_rep, g_ev, g_log = split(gk, gm)
        for exp_part, got_part, is_event in ((e_rep, g_rep, False), (e_ev, g_ev, True), (e_log, g_log, False)):
            a_keys, b_keys = [x[0] for x in exp_part], [x[0] for x in got_part]
            sm = difflib.SequenceMatcher(a=a_keys, b=b_keys, autojunk=False)
            for op, i1, i2, j1, j2 in sm.get_opcodes():
                if op == "equal":
                    for a, b in zip(exp_part[i1:i2], got_part[j1:j2]):
                        _compare_headers(diff, conn, a[1], b[1])
                        if is_event and abs(a[2] - b[2]) > ALLOW["event_reply_jitter"]:
                            diff.add(f"{conn}: {a[0][:3]} comes after {b[2]} replies, capture after {a[2]}")
                    continue
                for k in a_keys[i1:i2]:
                    diff.add(f"{conn}: missing {k}")
                for k in b_keys[j1:j2]:
                    if invalid_app and k[0] == "event" and k[1] in ALLOW["after_invalid_app_extra"]:
                        continue
                    diff.add(f"{conn}: unexpected {k}")
    return diff


def _floating(k: tuple) -> bool:
    return k == ("notice", "linger", "") or (k[0] == "event" and k[1] in ALLOW["optional_events"])


def _all_windows(sent: list[Rec], conn: str) -> int:
    return sum(1 for r in sent if r.conn == conn and r.dir == "app->fs" and re.match(r"event \w+ ALL", r.raw))


def _in_windows(keys: list[tuple], windows: int) -> list[bool]:
    """Events after the n-th `+OK event listener enabled` that answers `event ... ALL`
    up to the next `+OK no longer listening for events`."""
    if not windows:
        return [False] * len(keys)
    enabled = [i for i, k in enumerate(keys) if k[0] == "reply" and k[1].startswith("+OK event listener enabled")]
    out = [False] * len(keys)
    for start in enabled[-windows:]:
        for i in range(start + 1, len(keys)):
            if keys[i][0] == "reply" and keys[i][1] == "+OK no longer listening for events":
                break
            if keys[i][0] == "event":
                out[i] = True
    return out


def _strip_vars(names: list[str]) -> tuple[list[str], set[str]]:
    plain = [n for n in names if not n.startswith("variable_")]
    variables = {n for n in names if n.startswith("variable_")}
    return plain, variables


def _allowed_var(name: str) -> bool:
    return any(name == a or (a.endswith("_") and name.startswith(a)) for a in ALLOW["variables_not_emulated"])


def _compare_headers(diff: Diff, conn: str, exp: Msg | None, got: Msg | None) -> None:
    if exp is None or got is None:
        return
    if exp.content_type in ("command/reply", "api/response", "text/disconnect-notice", "auth/request"):
        exp_names = [k for k, _ in exp.headers]
        got_names = [k for k, _ in got.headers]
        if exp.h.get("Event-Name") == "CHANNEL_DATA":
            exp_names, _ = _strip_vars(exp_names)
            got_names, _ = _strip_vars(got_names)
        if exp_names != got_names:
            diff.add(f"{conn}: {key(exp)} header names {exp_names} != {got_names}")
        return
    if exp.content_type != got.content_type:
        diff.add(f"{conn}: {key(exp)} content type {exp.content_type} != {got.content_type}")
        return
    e_plain, e_vars = _strip_vars(exp.event_header_names)
    g_plain, g_vars = _strip_vars(got.event_header_names)
    if e_plain != g_plain:
        sm = difflib.SequenceMatcher(a=e_plain, b=g_plain, autojunk=False)
        changes = [(op, e_plain[i1:i2], g_plain[j1:j2]) for op, i1, i2, j1, j2 in sm.get_opcodes() if op != "equal"]
        diff.add(f"{conn}: {key(exp)[:3]} headers differ: {changes}")
    missing = {v for v in e_vars - g_vars if not _allowed_var(v)}
    if missing:
        diff.add(f"{conn}: {key(exp)[:3]} variables missing: {sorted(missing)}")
    # FreeSWITCH keeps variables in insertion order: the variables both have must come
    # in the same relative order.
    common = e_vars & g_vars
    e_order = [n for n in exp.event_header_names if n in common]
    g_order = [n for n in got.event_header_names if n in common]
    if e_order != g_order and CHECK_VARIABLE_ORDER:
        diff.add(f"{conn}: {key(exp)[:3]} variable order {e_order} != {g_order}")
