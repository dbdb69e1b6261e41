"""One emulated call leg: its variables, states, answer state, queues and events.

A Channel is a composition: its state (`status`: CS_*, call state, answer state,
hangup), caller profile (`profile`), the legs it is tied to (`links`), what runs on its
greenlet (`run`), its variables (`vars`; all fsapp/sim/channelparts.py) and the media
queue other greenlets push to (`queue`, fsapp/sim/mediaqueue.py). The Channel itself
changes them as FreeSWITCH does and fires the events that report each change.

Everything a FreeSWITCH channel shows on the wire comes from here, so the header set
and order of every channel event is decided in one place (`_channel_headers`).
"""
from __future__ import annotations

import logging
import uuid as uuidlib

import gevent
from gevent.event import Event as GEvent

from . import fsstrings
from .events import local_stamp
from .channelparts import TIME_FIELDS, CallerProfile, ChannelState, Links, Run, Variables
from .mediaqueue import MediaQueue, Message
from .voice import VoiceLog

log = logging.getLogger("fsapp.sim")

STATE_NUMBERS = {"CS_NEW": 0, "CS_INIT": 1, "CS_ROUTING": 2, "CS_SOFT_EXECUTE": 3, "CS_EXECUTE": 4,
                 "CS_EXCHANGE_MEDIA": 5, "CS_PARK": 6, "CS_CONSUME_MEDIA": 7, "CS_HIBERNATE": 8,
                 "CS_RESET": 9, "CS_HANGUP": 10, "CS_REPORTING": 11, "CS_DESTROY": 12, "CS_NONE": 13}
# The captures show CHANNEL_CREATE with Channel-State CS_INIT and number 2 (FreeSWITCH
# reports the *running* state number there); we copy the observed pairs.
Q850 = {"NORMAL_CLEARING": 16, "USER_BUSY": 17, "NO_USER_RESPONSE": 18, "NO_ANSWER": 19,
        "CALL_REJECTED": 21, "DESTINATION_OUT_OF_ORDER": 27, "NORMAL_UNSPECIFIED": 31,
        "NO_ROUTE_DESTINATION": 3, "UNALLOCATED_NUMBER": 1, "ORIGINATOR_CANCEL": 487,
        "MANAGER_REQUEST": 503, "USER_NOT_REGISTERED": 606,
        "SUBSCRIBER_ABSENT": 20, "LOSE_RACE": 502, "CHAN_NOT_IMPLEMENTED": 66,
        "INVALID_NUMBER_FORMAT": 28, "RECOVERY_ON_TIMER_EXPIRE": 102}

PROFILE_FIELDS = ["Direction", "Logical-Direction", "Dialplan", "Caller-ID-Name", "Caller-ID-Number",
                  "Orig-Caller-ID-Name", "Orig-Caller-ID-Number", "Callee-ID-Name", "Callee-ID-Number",
                  "ANI", "Destination-Number", "Unique-ID", "Source", "Transfer-Source", "Context", "Channel-Name"]


FRAME_S = 0.02  # one media frame
POLL_S = 0.5  # longest a waiting channel sleeps (wall seconds) before re-checking its state


class Channel:
    def __init__(self, services, *, name: str, direction: str, destination: str, context: str = "default",
                 cid_num: str = "0000000000", cid_name: str = "", callee_name: str = "Outbound Call",
                 callee_num: str = "", source: str = "mod_loopback", hit_dialplan: bool = True,
                 variables: list[tuple[str, str]] | None = None, uuid: str | None = None):
        self.services = services   # the switch, seen through fsapp/sim/services.py
        self.clock = services.clock
        self.uuid = uuid or str(uuidlib.uuid4())
        self.name = name
        self.direction = direction
        now_us = self.now_us()
        self.profile = CallerProfile(destination, context, cid_num, cid_name, callee_name, callee_num, source,
                                     created=now_us, hit_dialplan=hit_dialplan)
        self.links = Links(bridged=GEvent())
        self.run = Run()
        self.queue = MediaQueue()     # messages, DTMF and the wake-up (other greenlets push there)
        self.status = ChannelState(answered=GEvent(), ended=GEvent())
        self.session_id = services.next_session_id()
        self.vars = Variables()
        codecs = [("read_codec", "L16"), ("read_rate", "8000"), ("write_codec", "L16"), ("write_rate", "8000")]
        if direction == "outbound":   # the order FreeSWITCH's originate creates them in
            base = [("direction", direction), ("is_outbound", "true"), ("uuid", self.uuid),
                    ("call_uuid", self.uuid), ("session_id", str(self.session_id))] + codecs + \
                   [("channel_name", name)]
        else:
            base = [("direction", direction), ("uuid", self.uuid), ("call_uuid", self.uuid),
                    ("session_id", str(self.session_id)), ("channel_name", name)] + codecs
        for k, v in base + list(variables or []):
            self.set_var(k, v)
        # what is attached to this leg from outside: the scripted caller (it hears what the
        # far side plays), its VoiceLog, the outbound socket sessions controlling the channel
        self.caller = None
        self.voice = None
        self.sessions: list = []

    # ---- time and variables ---------------------------------------------------------
    def now_us(self) -> int:
        return int(self.clock.now() * 1_000_000)

    def set_var(self, name: str, value) -> None:
        self.vars.set(name, value)

    def get_var(self, name: str, default=None):
        return self.vars.get(name, default)

    def outgoing_voice(self):
        """What this leg sends towards its far end (a VoiceLog; a scripted caller's own)."""
        if self.voice is None:
            self.voice = VoiceLog(self.clock)
        return self.voice

    @property
    def far(self) -> "Channel | None":
        """The leg that hears this one: the loopback partner."""
        return self.links.peer

    # ---- events ---------------------------------------------------------------------
    def _profile(self, prefix: str, with_index: bool) -> list[tuple[str, str]]:
        values = {"Direction": self.direction,
                  "Logical-Direction": "inbound" if self.links.peer and self.direction == "outbound" and self.links.other_type == "originatee" and prefix == "Other-Leg" else self.direction,
                  "Dialplan": "xml", "Caller-ID-Name": self.profile.cid_name, "Caller-ID-Number": self.profile.cid_num,
                  "Orig-Caller-ID-Name": self.profile.orig_cid_name, "Orig-Caller-ID-Number": self.profile.orig_cid_num,
                  "Callee-ID-Name": self.profile.callee_name, "Callee-ID-Number": self.profile.callee_num,
                  "ANI": self.profile.cid_num, "Destination-Number": self.profile.destination, "Unique-ID": self.uuid,
                  "Source": self.profile.source, "Transfer-Source": self.profile.transfer_source if prefix == "Caller" else "",
                  "Context": self.profile.context, "Channel-Name": self.name}
        out = [(f"{prefix}-{k}", values[k]) for k in PROFILE_FIELDS if values[k] not in ("", None)]
        if with_index:
            out.append((f"{prefix}-Profile-Index", "1"))
        out.append((f"{prefix}-Profile-Created-Time", str(self.profile.created)))
        out += [(f"{prefix}-{k}", str(self.profile.times[k])) for k in TIME_FIELDS]
        out += [(f"{prefix}-Screen-Bit", "true"), (f"{prefix}-Privacy-Hide-Name", "false"),
                (f"{prefix}-Privacy-Hide-Number", "false")]
        return out

    def channel_headers(self, with_vars: bool = True) -> list[tuple[str, str]]:
        h = [("Channel-State", self.status.state), ("Channel-Call-State", self.status.call_state),
             ("Channel-State-Number", str(self.status.state_number)), ("Channel-Name", self.name),
             ("Unique-ID", self.uuid), ("Call-Direction", self.direction),
             ("Presence-Call-Direction", self.direction),
             ("Channel-HIT-Dialplan", "true" if self.profile.hit_dialplan else "false"),
             ("Channel-Call-UUID", self.uuid), ("Answer-State", self.status.answer_state)]
        if self.status.hangup_cause:
            h.append(("Hangup-Cause", self.status.hangup_cause))
        h += [("Channel-Read-Codec-Name", "L16"), ("Channel-Read-Codec-Rate", "8000"),
              ("Channel-Read-Codec-Bit-Rate", "128000"), ("Channel-Write-Codec-Name", "L16"),
              ("Channel-Write-Codec-Rate", "8000"), ("Channel-Write-Codec-Bit-Rate", "128000")]
        h += self._profile("Caller", True)
        if self.links.other is not None:
            h.append(("Other-Type", self.links.other_type))
            h += self.links.other._profile("Other-Leg", False)
        if with_vars:
            h += [(f"variable_{k}", v) for k, v in self.vars.items()]
        return h

    def fire(self, name: str, pre=(), post=(), with_vars: bool = True, body: str | None = None):
        ev = self.services.events.new(name, uuid=self.uuid)
        ev.headers += list(pre)
        ev.headers += self.channel_headers(with_vars)
        ev.headers += list(post)
        ev.body = body
        self.services.fire(ev)
        return ev

    # ---- states -----------------------------------------------------------------------
    def set_state(self, state: str, fire: bool = True) -> None:
        self.status.state, self.status.state_number = state, STATE_NUMBERS[state]
        if fire:
            self.fire("CHANNEL_STATE", with_vars=False)

    def set_call_state(self, call_state: str) -> None:
        old, self.status.call_state = self.status.call_state, call_state
        self.fire("CHANNEL_CALLSTATE", pre=[("Original-Channel-Call-State", old),
                                             ("Channel-Call-State-Number", str(
                                                 ["DOWN", "DIALING", "RINGING", "EARLY", "ACTIVE", "HELD",
                                                  "RING_WAIT", "HANGUP", "UNHELD"].index(call_state)))],
                  with_vars=False)

    def mark_pre_answered(self) -> None:
        if self.status.hungup or self.status.answer_state in ("early", "answered"):
            return
        self.status.answer_state = "early"
        now = self.now_us()
        self.profile.times["Channel-Progress-Media-Time"] = now
        self.set_var("endpoint_disposition", "EARLY MEDIA")
        self.fire("CHANNEL_PROGRESS_MEDIA")
        self.status.call_state = "EARLY"
        self.status.answered.set()
        if self.links.peer is not None and not self.links.peer.status.hungup:
            self.links.peer.mark_pre_answered()

    def flip_cid(self) -> None:
        """An originated A leg that runs an app shows the far end as its caller (FreeSWITCH
        sets channel_cid_flipped)."""
        self.set_var("pre_transfer_caller_id_number", self.profile.cid_num)
        self.set_var("channel_cid_flipped", "yes")
        self.set_var("call_uuid", self.uuid)
        self.profile.callee_num = self.profile.cid_num
        self.profile.cid_name, self.profile.cid_num = self.profile.callee_name, self.profile.destination
        self.profile.callee_name = ""

    def mark_answered(self) -> None:
        if self.status.hungup or self.status.answer_state == "answered":
            return
        self.status.answer_state = "answered"
        self.profile.times["Channel-Answered-Time"] = self.now_us()
        # A loopback pair: the other leg's CHANNEL_ANSWER comes first (as captured).
        if self.links.peer is not None and not self.links.peer.status.hungup:
            self.links.peer.mark_answered()
        self.fire("CHANNEL_ANSWER")
        self.status.call_state = "ACTIVE"
        self.set_var("endpoint_disposition", "ANSWER")
        self.status.answered.set()

    @property
    def is_answered(self) -> bool:
        return self.status.answer_state == "answered"

    def mark_hold(self, on: bool) -> None:
        """switch_channel_mark_hold: this leg's phone put the call on hold (re-INVITE with
        a=sendonly) or took it off, or uuid_hold named it. As FreeSWITCH: the call state
        HELD (UNHELD after), Channel-Last-Hold / Channel-Hold-Accum in the profile times,
        then CHANNEL_HOLD (CHANNEL_UNHOLD)."""
        if self.status.hungup or on == self.status.holding:
            return
        self.status.holding = on
        if self.is_answered:
            now = self.now_us()
            if on:
                self.profile.times["Channel-Last-Hold"] = now
                self.set_call_state("HELD")
            else:
                if self.profile.times["Channel-Last-Hold"]:
                    self.profile.times["Channel-Hold-Accum"] += now - self.profile.times["Channel-Last-Hold"]
                self.set_call_state("UNHELD")
        self.fire("CHANNEL_HOLD" if on else "CHANNEL_UNHOLD")

    # ---- lifecycle ------------------------------------------------------------------
    def start(self, announce: bool = True) -> None:
        """Register, fire CHANNEL_CREATE and run self.run.program in the channel's greenlet."""
        self.services.channels[self.uuid] = self
        self.status.state, self.status.state_number = "CS_INIT", 2
        if announce:
            self.fire("CHANNEL_CREATE")
        self.run.greenlet = gevent.spawn(self._lifecycle)

    def _lifecycle(self) -> None:
        try:
            while self.run.program is not None and not self.status.hungup:
                program, self.run.program = self.run.program, None
                program(self)
                # a transfer may come while the one before is being routed (a phone's
                # blind transfer of a uuid_bridge'd leg): each goes through the dialplan
                while self.run.transfer_to and not self.status.hungup and self.run.program is None:
                    ext, ctx = self.run.transfer_to
                    self.run.transfer_to = None
                    self.services.route_transfer(self, ext, ctx)
            if not self.status.hungup:
                self.hangup("NORMAL_CLEARING")
        except Exception:  # a bug in the emulator must not leave the call hanging forever
            log.exception("sim channel %s crashed", self.uuid)
            if not self.status.hungup:
                self.hangup("NORMAL_TEMPORARY_FAILURE")
        finally:
            self._finish()

    def _finish(self) -> None:
        if self.run.finish_gate is not None:
            # Reporting held until a related party caught up (bounded: one or two frames).
            self.run.finish_gate.wait(timeout=self.clock.to_wall(5 * FRAME_S))
        # The loopback partner goes down once this leg's apps have unwound (capture order:
        # HANGUP a, EXECUTE_COMPLETE a, HANGUP b, HANGUP_COMPLETE a, ...).
        if self.links.peer is not None and not self.links.peer.status.hungup:
            self.links.peer.hangup(self.status.hangup_cause or "NORMAL_CLEARING")
        self.set_state("CS_HANGUP")
        self.status.call_state = "HANGUP"
        self.set_state("CS_REPORTING")
        self._set_report_vars()
        self.fire("CHANNEL_HANGUP_COMPLETE", pre=[("Hangup-Cause", self.status.hangup_cause or "NORMAL_CLEARING")])
        for hook in self.run.reporting_hooks:   # e.g. mod_callcenter's agent thread reacting at once
            hook(self)
        self.set_state("CS_DESTROY", fire=False)
        self.fire("CHANNEL_DESTROY", with_vars=True)
        self.services.channels.pop(self.uuid, None)
        self.status.ended.set()
        for s in list(self.sessions):
            s.channel_destroyed(self)

    def _set_report_vars(self) -> None:
        t = self.profile.times
        created = t["Channel-Created-Time"]
        end = t["Channel-Hangup-Time"] or self.now_us()
        answered = t["Channel-Answered-Time"]
        self.set_var("hangup_cause", self.status.hangup_cause)
        self.set_var("hangup_cause_q850", str(Q850.get(self.status.hangup_cause or "", 0)))
        self.set_var("digits_dialed", "".join(self.run.digits_dialed) or "none")
        self.set_var("start_stamp", local_stamp(created / 1e6))
        if answered:
            self.set_var("answer_stamp", local_stamp(answered / 1e6))
        self.set_var("end_stamp", local_stamp(end / 1e6))
        self.set_var("start_epoch", str(created // 1_000_000))
        self.set_var("start_uepoch", str(created))
        self.set_var("answer_epoch", str(answered // 1_000_000))
        self.set_var("answer_uepoch", str(answered))
        self.set_var("end_epoch", str(end // 1_000_000))
        self.set_var("end_uepoch", str(end))
        if self.run.app_last:
            self.set_var("last_app", self.run.app_last[0])
            self.set_var("last_arg", self.run.app_last[1])
        self.set_var("caller_id", self.profile.cid_num)
        self.set_var("duration", str((end - created) // 1_000_000))
        self.set_var("billsec", str((end - answered) // 1_000_000 if answered else 0))
        self.set_var("answersec", str((answered - created) // 1_000_000 if answered else 0))
        self.set_var("mduration", str((end - created) // 1000))
        self.set_var("billmsec", str((end - answered) // 1000 if answered else 0))
        self.set_var("answermsec", str((answered - created) // 1000 if answered else 0))
        self.set_var("uduration", str(end - created))
        self.set_var("billusec", str(end - answered if answered else 0))
        if self.links.loopback:
            self.set_var("is_loopback", "1")

    def hangup(self, cause: str = "NORMAL_CLEARING") -> bool:
        """Hang up now: CHANNEL_HANGUP fires at once; the channel's greenlet finishes."""
        if self.status.hungup:
            return False
        self.status.hungup = True
        self.status.hangup_cause = cause or "NORMAL_CLEARING"
        self.status.answer_state = "hangup"
        self.status.state_number = STATE_NUMBERS["CS_HANGUP"]
        self.profile.times["Channel-Hangup-Time"] = self.now_us()
        self.fire("CHANNEL_HANGUP")
        for s in list(self.sessions):
            s.channel_hungup(self)
        self.status.answered.set()
        self.queue.wake.set()
        if self.run.greenlet is None and self.links.peer is not None and not self.links.peer.status.hungup:
            gevent.spawn(self.links.peer.hangup, cause)
        if self.links.bridged_to is not None and not self.links.bridged_to.status.hungup:
            partner = self.links.bridged_to
            if partner.links.originator is self:   # we dialled it: the called leg goes too
                gevent.spawn(partner.hangup, cause)
            else:
                partner.queue.wake.set()           # its bridge app returns
        if self.caller is not None:
            self.caller.on_hangup(self)
        if self.run.greenlet is None:
            gevent.spawn(self._finish)
        return True

    # ---- input ------------------------------------------------------------------------
    def queue_dtmf(self, digits: str, source: str = "APP", duration: int = 2000) -> None:
        self.queue.push_dtmf(digits, source, duration)

    def take_dtmf(self) -> str:
        """Dequeue one digit, firing DTMF like switch_channel_dequeue_dtmf()."""
        digit, duration, source = self.queue.dtmf.popleft()
        self.run.digits_dialed.append(digit)
        self.fire("DTMF", post=[("DTMF-Digit", digit), ("DTMF-Duration", str(duration)),
                                ("DTMF-Source", source)], with_vars=False)
        return digit

    def enqueue(self, msg: Message) -> None:
        self.queue.push_message(msg)

    # ---- waiting ----------------------------------------------------------------------
    def wait_media(self, seconds: float, *, dtmf: str = "keep", terminators: str = "",
                   nested: bool = True, wake_returns: bool = False) -> tuple[str, str]:
        """Let `seconds` of emulated media time pass, like an app's frame loop.

        dtmf: "keep" leaves digits queued, "consume" dequeues them (DTMF events) and stops
        on a terminator, "collect" returns as soon as a digit is queued, "first" dequeues
        the first digit and returns it.
        Queued messages without event-lock run nested (the app pauses meanwhile).
        Returns (reason, digit): reason in done, hangup, break, terminator, dtmf, wake.
        """
        deadline = self.clock.now() + seconds
        while True:
            if self.status.hungup:
                if self.run.frame_notice:
                    # This app notices the hangup on its next media frame (see frame_notice).
                    self.run.frame_notice = False
                    self.clock.sleep(FRAME_S)
                return "hangup", ""
            if self.run.break_requested or self.run.transfer_to:
                self.run.break_requested = False
                return "break", ""
            if dtmf == "collect" and self.queue.dtmf:
                return "dtmf", ""
            if dtmf == "first" and self.queue.dtmf:
                # switch_ivr_play_file with a digit buffer: the digit is dequeued (its
                # DTMF event fires) and stops the prompt (capture pagd_invalid_then_valid).
                return "dtmf", self.take_dtmf()
            if dtmf == "consume":
                while self.queue.dtmf:
                    d = self.take_dtmf()
                    if d in terminators:
                        return "terminator", d
            if nested and self.queue.nested_message_ready(self.run.event_locks > 0):
                t0 = self.clock.now()
                self.run_message(self.queue.msgs.popleft())
                deadline += self.clock.now() - t0
                continue
            remaining = deadline - self.clock.now()
            if remaining <= 0:
                return "done", ""
            self.queue.wake.clear()
            if self.status.hungup or self.run.break_requested or (self.queue.dtmf and dtmf != "keep") or \
                    (nested and self.queue.nested_message_ready(self.run.event_locks > 0)):
                continue
            # Capped wait: a missed wake-up costs at most POLL_S, never a hung call.
            self.clock.wait([self.queue.wake], remaining, poll=POLL_S)
            if wake_returns:
                # The caller re-checks its own condition (woken, or after a poll interval).
                return "wake", ""

    # ---- applications ---------------------------------------------------------------
    def execute(self, app: str, arg: str = "", app_uuid: str | None = None, loops: bool = False) -> None:
        fn = self.services.applications.get(app)
        if fn is None:
            # FreeSWITCH logs "Invalid Application" and hangs the call up, firing no events.
            log.info("sim: invalid application %r on %s", app, self.uuid)
            self.hangup("DESTINATION_OUT_OF_ORDER")
            return
        if self.status.hungup:
            return
        arg = self.expand(arg)
        app_uuid = app_uuid or str(uuidlib.uuid4())
        if loops:
            self.set_var("current_loop", "1")
            self.set_var("total_loops", "1")
        self.set_var("current_application", app)
        self.set_var("current_application_data", arg)
        self.set_var("current_application_response", None)
        tail = [("Application", app)] + ([("Application-Data", arg)] if arg else [])
        self.fire("CHANNEL_EXECUTE", post=tail + [("Application-UUID", app_uuid)])
        # The captures show data before app in every later event: FreeSWITCH sets the
        # application name once more when it starts running it.
        self.set_var("current_application", app)
        self.run.app_stack.append(app)
        self.run.app_last = (app, arg)
        try:
            fn(self, arg)
        finally:
            self.run.app_stack.pop()
        resp = self.vars.get("current_application_response") or "_none_"
        self.fire("CHANNEL_EXECUTE_COMPLETE",
                  post=tail + [("Application-Response", resp), ("Application-UUID", app_uuid)])

    def expand(self, text: str) -> str:
        """What switch_core_session_execute_application does to an argument before the
        app sees it (unless app_disable_expand_variables): switch_channel_expand_variables.
        `${cmd args}` runs the API command, as on a real switch (services.expand_api
        notes it in switch.api_expansions so tests can tell)."""
        text = fsstrings.c_string(text or "")
        if str(self.get_var("app_disable_expand_variables") or "").lower() in ("true", "yes", "on", "1"):
            return text

        return fsstrings.expand_variables(text, lambda name: self.get_var(name), self.services.expand_api)

    def run_extension(self) -> None:
        """Run the rest of the channel's extension (CS_EXECUTE). Stops when the channel is
        hung up, transferred or sent elsewhere (self.run.program set, e.g. park_after_bridge);
        a uuid_bridge that ends without park/hangup_after_bridge comes back here and goes
        on with the application after the one it interrupted, as FreeSWITCH does."""
        while self.run.extension and not (self.status.hungup or self.run.transfer_to or self.run.program is not None):
            app, arg = self.run.extension.pop(0)
            self.execute(app, arg)

    def run_message(self, msg: Message) -> None:
        h = msg.headers
        cmd = (h.get("call-command") or msg.command or "").lower()
        if self.status.hungup:
            return  # observation 29: after hangup sendmsg gets +OK and nothing happens
        if msg.event_lock:
            self.run.event_locks += 1
        try:
            self._run_command(cmd, h, msg)
        finally:
            if msg.event_lock:
                self.run.event_locks -= 1

    def _run_command(self, cmd: str, h: dict, msg: Message) -> None:
        if cmd == "execute":
            app = h.get("execute-app-name", "")
            arg = h.get("execute-app-arg", "")
            if not arg and msg.body and h.get("content-type", "").lower() == "text/plain":
                arg = msg.body
            try:
                count = max(1, int(h.get("loops", "1")))
            except ValueError:
                count = 1
            for _ in range(count):
                self.execute(app, arg, h.get("event-uuid"), loops=True)
        elif cmd == "hangup":
            self.hangup(h.get("hangup-cause") or "NORMAL_CLEARING")
        elif cmd == "unicast" or cmd == "nomedia" or cmd == "xferext":
            log.info("sim: call-command %s accepted but not emulated", cmd)

    def park_loop(self) -> None:
        """What park (and the socket app in async mode) does: run messages, eat DTMF."""
        if not self.run.park_fired:
            self.run.park_fired = True
            self.fire("CHANNEL_PARK")
        fresh = False
        while not self.status.hungup:
            if (self.queue.msgs or self.queue.dtmf) and fresh:
                # Input that arrives while parked is handled on the next media frame
                # (20 ms), so FreeSWITCH's reply always precedes the events it causes.
                fresh = False
                self.clock.sleep(FRAME_S)
                continue
            while self.queue.dtmf:
                self.take_dtmf()
            if self.queue.msgs:
                if fresh:
                    # A message that arrives while parked runs on the next media frame
                    # (20 ms), so FreeSWITCH's reply always precedes CHANNEL_EXECUTE.
                    fresh = False
                    self.clock.sleep(FRAME_S)
                    continue
                self.run_message(self.queue.msgs.popleft())
                continue
            fresh = True
            if self.run.transfer_to or self.run.break_out:
                break
            self.queue.wake.clear()
            if self.queue.dtmf or self.queue.msgs or self.status.hungup or self.run.transfer_to or self.run.break_out:
                continue
            self.run.awaiting_app = any(not s.closed for s in self.sessions)
            try:
                self.queue.wake.wait(timeout=POLL_S)
            finally:
                self.run.awaiting_app = False
        self.fire("CHANNEL_UNPARK")
        self.run.park_fired = False   # parked again later (park_after_bridge): CHANNEL_PARK again
