"""API commands (`api ...` / `bgapi ...`): what mod_commands answers, as text bodies."""
from __future__ import annotations

import json
import logging

import gevent

from . import fsstrings, wire
from .channel import FRAME_S
from .ivrconf import read_menus
from .mediaqueue import Message
from .events import local_stamp
from .legs import DialError, new_leg, originate_timeout, parse_vars, start_leg, wait_answer

log = logging.getLogger("fsapp.sim")

VERSION = "1.10.12-release+git~20240802T210227Z~a88d069d6f~64bit"
VERSION_LINE = ("FreeSWITCH Version 1.10.12-release+git~20240802T210227Z~a88d069d6f~64bit "
                "(git a88d069 2024-08-02 21:02:27Z 64bit)")
NO_CHANNEL = "-ERR No such channel!\n"


def uptime_text(seconds: float) -> str:
    us = int(seconds * 1_000_000)
    s, us = divmod(us, 1_000_000)
    ms, us = divmod(us, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    d, h = divmod(h, 24)
    y, d = divmod(d, 365)
    return (f"{y} years, {d} days, {h} hours, {m} minutes, {s} seconds, "
            f"{ms} milliseconds, {us} microseconds")


class Api:
    def __init__(self, switch):
        self.switch = switch
        self.commands = {
            "status": self.status, "version": self.version, "uuid_exists": self.uuid_exists,
            "uuid_kill": self.uuid_kill, "uuid_bridge": self.uuid_bridge, "uuid_transfer": self.uuid_transfer,
            "uuid_broadcast": self.uuid_broadcast, "uuid_recv_dtmf": self.uuid_recv_dtmf,
            "uuid_send_dtmf": self.uuid_send_dtmf, "uuid_setvar": self.uuid_setvar,
            "uuid_getvar": self.uuid_getvar, "uuid_break": self.uuid_break, "uuid_dump": self.uuid_dump,
            "uuid_answer": self.uuid_answer, "uuid_hold": self.uuid_hold, "show": self.show, "hupall": self.hupall,
            "reloadxml": self.reloadxml, "originate": self.originate,
        }   # optional modules add theirs (mod_callcenter: callcenter_config)

    def execute(self, cmd: str, args: str) -> str:
        fn = self.commands.get(cmd)
        if fn is None:
            return f"-ERR {cmd} Command not found!\n"
        try:
            return fn(args)
        except Exception as exc:  # an API error must never kill the connection
            log.exception("sim api %s %s failed", cmd, args)
            return f"-ERR {cmd} failed: {exc}\n"

    def _ch(self, uuid: str):
        return self.switch.channels.get(uuid.strip())

    # ---- system -----------------------------------------------------------------------
    def status(self, args: str) -> str:
        sw = self.switch
        up = sw.clock.now() - sw.started_at
        return (f"UP {uptime_text(up)}\n"
                f"FreeSWITCH (Version 1.10.12-release git a88d069 2024-08-02 21:02:27Z 64bit) is ready\n"
                f"{sw.sessions_since_start} session(s) since startup\n"
                f"{len(sw.channels)} session(s) - peak {sw.peak_sessions}, last 5min {sw.peak_sessions} \n"
                f"0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n"
                f"1000 session(s) max\nmin idle cpu 0.00/99.93\nCurrent Stack Size/Max 240K/8192K\n")

    def version(self, args: str) -> str:
        return VERSION_LINE + "\n"

    def reloadxml(self, args: str) -> str:
        if self.switch.conf_dir is not None:
            try:
                menus = read_menus(self.switch.conf_dir)   # ivr.conf's menus, all or nothing
                self.switch.dialplan.load_conf(self.switch.conf_dir)
                self.switch.ivr_menus = menus
            except (OSError, ValueError) as exc:
                return f"-ERR [{exc}]\n"
        return "+OK [Success]\n"

    def hupall(self, args: str) -> str:
        cause = (args.split() or ["MANAGER_REQUEST"])[0]
        for ch in list(self.switch.channels.values()):
            gevent.spawn(ch.hangup, cause)
        return f"+OK hangup all channels with cause {cause}\n"

    # ---- channels ---------------------------------------------------------------------
    def uuid_exists(self, args: str) -> str:
        ch = self._ch(args)
        return "true" if ch is not None and not ch.status.hungup else "false"

    def uuid_kill(self, args: str) -> str:
        parts = args.split()
        ch = self._ch(parts[0]) if parts else None
        if ch is None or ch.status.hungup:
            return NO_CHANNEL
        # Deferred, so the +OK reply goes out before CHANNEL_HANGUP (observation 13).
        gevent.spawn(ch.hangup, parts[1] if len(parts) > 1 else "NORMAL_CLEARING")
        return "+OK\n"

    def uuid_answer(self, args: str) -> str:
        ch = self._ch(args)
        if ch is None:
            return NO_CHANNEL
        gevent.spawn(ch.mark_answered)
        return "+OK\n"

    def uuid_hold(self, args: str) -> str:
        """uuid_hold [off|toggle] <uuid>: mark the leg held (or not), as a phone's hold key does."""
        parts = args.split()
        mode = parts.pop(0) if parts and parts[0] in ("off", "toggle") else "on"
        ch = self._ch(parts[0]) if parts else None
        if ch is None or ch.status.hungup:
            return NO_CHANNEL
        ch.mark_hold(not ch.status.holding if mode == "toggle" else mode == "on")
        return "+OK Success\n"

    def uuid_recv_dtmf(self, args: str) -> str:
        uuid, _, digits = args.partition(" ")
        ch = self._ch(uuid)
        if ch is None:
            return NO_CHANNEL
        ch.queue_dtmf(digits.strip(), source="APP")
        return f"+OK {uuid} received DTMF {digits.strip()}.\n"

    def uuid_send_dtmf(self, args: str) -> str:
        uuid, _, digits = args.partition(" ")
        ch = self._ch(uuid)
        if ch is None:
            return NO_CHANNEL
        sent = digits.strip()
        digits = sent.split("@")[0]
        far = ch.far
        if far is not None and far.caller is not None:
            far.caller.on_dtmf_sent(digits)
        elif far is not None:
            # The far leg receives them as media (captured: DTMF-Source UNKNOWN, about
            # 20 ms later, one frame of the far leg's loop).
            gevent.spawn(self._deliver_dtmf, far, digits)
        return f"+OK {uuid} sent DTMF {sent}.\n"

    @staticmethod
    def _deliver_dtmf(far, digits: str) -> None:
        far.clock.sleep(FRAME_S)
        if not far.status.hungup:
            far.queue_dtmf(digits, source="UNKNOWN")

    def uuid_setvar(self, args: str) -> str:
        parts = fsstrings.separate_string(args, " ", 3)
        if len(parts) < 2:
            return "-USAGE: <uuid> <var> [value]\n"
        ch = self._ch(parts[0])
        if ch is None:
            return NO_CHANNEL
        ch.set_var(parts[1], parts[2] if len(parts) > 2 else None)
        return "+OK\n"

    def uuid_getvar(self, args: str) -> str:
        parts = args.split()
        if len(parts) < 2:
            return "-USAGE: <uuid> <var>\n"
        ch = self._ch(parts[0])
        if ch is None:
            return NO_CHANNEL
        return ch.get_var(parts[1], "_undef_")

    def uuid_break(self, args: str) -> str:
        parts = args.split()
        ch = self._ch(parts[0]) if parts else None
        if ch is None:
            return NO_CHANNEL
        if "all" in parts[1:]:
            ch.queue.msgs.clear()
        ch.run.break_requested = bool(ch.run.app_stack and ch.run.app_stack[-1] not in ("socket", "park"))
        ch.queue.wake.set()
        return "+OK\n"

    def uuid_broadcast(self, args: str) -> str:
        parts = args.split()
        if len(parts) < 2:
            return "-USAGE: <uuid> <path> [aleg|bleg|both]\n"
        ch = self._ch(parts[0])
        if ch is None:
            return NO_CHANNEL
        path = parts[1]
        app, _, arg = path.partition("::")
        if arg or "::" in path:
            msg = Message("execute", {"call-command": "execute", "execute-app-name": app,
                                      "execute-app-arg": arg}, False)
        else:
            msg = Message("execute", {"call-command": "execute", "execute-app-name": "playback",
                                      "execute-app-arg": path}, False)
        ch.enqueue(msg)
        return "+OK Message sent\n"

    def uuid_transfer(self, args: str) -> str:
        parts = args.split()
        if len(parts) < 2:
            return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
        ch = self._ch(parts[0])
        if ch is None:
            return NO_CHANNEL
        rest = [p for p in parts[1:] if p not in ("-bleg", "-both")]
        dest = rest[0]
        ctx = rest[2] if len(rest) > 2 else ch.profile.context
        ch.run.transfer_to = (dest, ctx)
        ch.profile.times["Channel-Transfer-Time"] = ch.now_us()
        ch.queue.wake.set()
        return "+OK\n"

    def uuid_bridge(self, args: str) -> str:
        parts = args.split()
        if len(parts) < 2:
            return "-USAGE: <uuid> <other_uuid>\n"
        a, b = self._ch(parts[0]), self._ch(parts[1])
        if a is None or b is None or a.status.hungup or b.status.hungup:
            return "-ERR Invalid uuid\n"
        self.switch.join(a, b)
        return f"+OK {b.uuid}\n"

    def uuid_dump(self, args: str) -> str:
        parts = args.split()
        ch = self._ch(parts[0]) if parts else None
        if ch is None:
            return NO_CHANNEL
        ev = self.switch.events.new("CHANNEL_DATA", uuid=ch.uuid)
        ev.headers += ch.channel_headers()
        if len(parts) > 1 and parts[1] == "json":
            return json.dumps(dict(ev.headers), separators=(",", ":"), ensure_ascii=False)
        return "".join(f"{k}: {wire.url_encode(v)}\n" for k, v in ev.headers) + "\n"

    def show(self, args: str) -> str:
        parts = args.split()
        what = parts[0] if parts else ""
        as_json = parts[1:3] == ["as", "json"]
        if what not in ("channels", "calls"):
            return "-USAGE: show channels|calls [as json]\n"
        rows = [self._row(ch) for ch in self.switch.channels.values() if not ch.status.hungup]
        if as_json:
            if not rows:
                return '{"row_count": 0}\n'
            return json.dumps({"row_count": len(rows), "rows": rows}, separators=(",", ":"), ensure_ascii=False)
        if not rows:
            return "\n0 total.\n"
        keys = list(rows[0])
        lines = [",".join(keys)] + [",".join(r[k] for k in keys) for r in rows]
        return "\n".join(lines) + f"\n\n{len(rows)} total.\n"

    def _row(self, ch) -> dict:
        created = ch.profile.times["Channel-Created-Time"] / 1e6
        app = ch.run.app_stack[-1] if ch.run.app_stack else ""
        return {"uuid": ch.uuid, "direction": ch.direction, "created": local_stamp(created),
                "created_epoch": str(int(created)), "name": ch.name, "state": ch.status.state,
                "cid_name": ch.profile.cid_name, "cid_num": ch.profile.cid_num, "ip_addr": "", "dest": ch.profile.destination,
                "application": app, "application_data": ch.get_var("current_application_data", "") if app else "",
                "dialplan": "xml", "context": ch.profile.context, "read_codec": "L16", "read_rate": "8000",
                "read_bit_rate": "128000", "write_codec": "L16", "write_rate": "8000",
                "write_bit_rate": "128000", "secure": "", "hostname": self.switch.hostname,
                "presence_id": "", "presence_data": "", "accountcode": "", "callstate": ch.status.call_state,
                "callee_name": ch.profile.callee_name, "callee_num": ch.profile.callee_num,
                "callee_direction": "", "call_uuid": ch.uuid, "sent_callee_name": "",
                "sent_callee_num": "", "initial_cid_name": ch.profile.cid_name, "initial_cid_num": ch.profile.cid_num,
                "initial_ip_addr": "", "initial_dest": ch.profile.destination, "initial_dialplan": "xml",
                "initial_context": ch.profile.context}

    # ---- originate --------------------------------------------------------------------
    def originate(self, args: str) -> str:
        # originate <call url> <exten>|&<app>[(<args>)] [<dialplan>] [<context>] [<cid name>] [<cid num>] [<timeout>]
        argv = [None if a.lower() == "undef" else a for a in fsstrings.separate_string(args, " ", 10)]
        if not 2 <= len(argv) <= 7 or not argv[0] or not argv[1]:
            return "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n"
        # rest: [0] dialplan, [1] context, [2] cid name, [3] cid num, [4] timeout
        url, target, rest = argv[0], argv[1], [a or "" for a in argv[2:]]
        try:
            vars_, dial = parse_vars(url)
        except DialError as exc:
            return f"-ERR {exc.cause}\n"
        legs = self.switch.record_originate("originate", args, vars_, dial)
        if len(legs) != 1:
            log.warning("sim: originate asks for %d legs (%s); only the first is emulated", len(legs), legs)
        try:
            leg_vars, endpoint = parse_vars(legs[0] if legs else "")
        except DialError as exc:
            return f"-ERR {exc.cause}\n"
        vars_ = {**vars_, **leg_vars}
        cid_num = vars_.get("origination_caller_id_number") or (rest[3] if len(rest) > 3 else "0000000000")
        cid_name = vars_.get("origination_caller_id_name") or (rest[2] if len(rest) > 2 else "")
        timeout = float(rest[4]) if len(rest) > 4 and rest[4].isdigit() else originate_timeout(vars_)
        try:
            leg = new_leg(self.switch, endpoint, vars_, cid_num, cid_name)
        except DialError as exc:
            return f"-ERR {exc.cause}\n"
        start_leg(self.switch, leg)
        failure = wait_answer(leg, timeout, early_ok=True)
        if failure is not None:
            return f"-ERR {failure}\n"
        if getattr(leg, "loopback_b", None) is not None:
            leg.flip_cid()
        if target.startswith("&"):
            app, _, app_arg = target[1:].partition("(")
            app_arg = app_arg[:-1] if app_arg.endswith(")") else app_arg
            leg.run.program = lambda c, a=app, g=app_arg: c.execute(a, g)
        else:
            ctx = rest[1] if len(rest) > 1 else "default"
            leg.run.transfer_to = (target, ctx)
        leg.queue.wake.set()
        return f"+OK {leg.uuid}\n"
