"""Scripted agents reached as user/<id> (and scripted callees reached through a gateway,
sofia/gateway/<gw>/<number>): ring, then answer (and hang up after talk_s), or fail
with NO_ANSWER, USER_BUSY or CALL_REJECTED. `press` makes an answered endpoint key
DTMF, e.g. ((4.0, "1"),): "1" four seconds after answering (a callee answering a
campaign's question). `hold` makes the agent's phone put the caller on hold, e.g.
((20.0, 15.0),): on hold 20 s after answering, for 15 s (FreeSWITCH then marks the
agent's leg held: CHANNEL_HOLD, CHANNEL_UNHOLD). `transfer` makes the agent's phone
blind-transfer the caller, e.g. (30.0, "2000"): 30 s after answering, a REFER to 2000,
as mod_sofia handles it (sofia_handle_sip_i_refer): sip_refer_to and TRANSFER_FALLBACK
on the agent's leg, the bridged partner transferred to the extension in the dialplan,
endpoint_disposition BLIND_TRANSFER; then the phone hangs up (BYE). `attended` makes the
agent transfer the caller after consulting a colleague, e.g. (30.0, "user/1003", 10.0):
30 s after answering, the phone's transfer key runs att_xfer user/1003 on the agent's
leg (a bind_meta_app key, fsapp/sim/apps/att_xfer.py); once 1003 answered, the agent
talks with them 10 s and hangs up, which puts the caller through to 1003."""
from __future__ import annotations

from dataclasses import dataclass, field

import gevent
import gevent.event

from .channel import Channel

FAILURES = {False: "NO_ANSWER", "busy": "USER_BUSY", "reject": "CALL_REJECTED"}


@dataclass
class AgentEndpoint:
    agent_id: str
    ring_s: float = 1.0
    talk_s: float = 30.0
    answer: object = True   # True, False (no answer), "busy", "reject"
    calls: list[dict] = field(default_factory=list)  # one entry per offered call
    press: tuple = ()       # ((seconds after answer, digits), ...), in order
    hold: tuple = ()        # ((seconds after answer, seconds on hold), ...), in order
    transfer: tuple = ()    # (seconds after answer, extension): a blind transfer from the phone
    attended: tuple = ()    # (seconds after answer, dial string, seconds consulting): att_xfer
    # when talk_s starts: "answer", or "bridge" (the person talks once the caller is put
    # through; a leg never bridged still hangs up after bridge_wait_s, then talk_s)
    talk_from: str = "answer"
    bridge_wait_s: float = 60.0

    def __post_init__(self):
        for at, digits in self.press:
            if at < 0 or not digits or any(d not in "0123456789*#ABCD" for d in digits):
                raise ValueError(f"agent {self.agent_id}: press ({at!r}, {digits!r}): seconds >= 0 and "
                                 f"digits 0-9 * # A-D")
        for at, seconds in self.hold:
            if at < 0 or seconds <= 0:
                raise ValueError(f"agent {self.agent_id}: hold ({at!r}, {seconds!r}): seconds after answer >= 0 "
                                 f"and seconds on hold > 0")
        if self.transfer and (len(self.transfer) != 2 or self.transfer[0] < 0 or not str(self.transfer[1])):
            raise ValueError(f"agent {self.agent_id}: transfer {self.transfer!r}: (seconds after answer >= 0, "
                             f"extension)")
        if self.attended and (len(self.attended) != 3 or self.attended[0] < 0 or not str(self.attended[1])
                              or self.attended[2] < 0):
            raise ValueError(f"agent {self.agent_id}: attended {self.attended!r}: (seconds after answer >= 0, "
                             f"dial string, seconds consulting >= 0)")
        if self.talk_from not in ("answer", "bridge"):
            raise ValueError(f"agent {self.agent_id}: talk_from must be 'answer' or 'bridge', got {self.talk_from!r}")
        if self.answer not in (True, False, "busy", "reject"):
            raise ValueError(f"agent {self.agent_id}: answer must be True, False, 'busy' or 'reject', "
                             f"got {self.answer!r}")

    def new_leg(self, services, var_list, cid_num: str, cid_name: str, uuid: str | None = None) -> Channel:
        leg = Channel(services, name=f"sofia/internal/{self.agent_id}@{services.ipv4}", direction="outbound",
                      destination=self.agent_id, cid_num=cid_num, cid_name=cid_name,
                      callee_num=self.agent_id, source="mod_sofia", hit_dialplan=False, variables=var_list,
                      uuid=uuid)
        leg.agent = self
        return leg

    def ring(self, leg: Channel) -> None:
        record = {"uuid": leg.uuid, "offered_at": leg.clock.now(), "answered_at": None,
                  "ended_at": None, "result": None, "caller_id": leg.profile.cid_num,
                  "variables": dict(leg.vars)}   # what the dialler set (tests check them)
        self.calls.append(record)
        gevent.spawn(self._run, leg, record)

    def _run(self, leg: Channel, record: dict) -> None:
        clock = leg.clock
        leg.set_call_state("RINGING")
        reason, _ = leg.wait_media(self.ring_s, nested=False)
        if reason == "hangup":
            record["result"] = leg.status.hangup_cause
            record["ended_at"] = clock.now()
            return
        if self.answer is not True:
            record["result"] = FAILURES[self.answer]
            leg.hangup(FAILURES[self.answer])
            record["ended_at"] = clock.now()
            return
        leg.mark_answered()
        record["answered_at"] = clock.now()
        if self.hold:
            gevent.spawn(self._hold, leg)
        if self.transfer:
            gevent.spawn(self._blind_transfer, leg)
        if self.attended:
            gevent.spawn(self._attended_transfer, leg)
        # talk until the leg ends or talk_s is up (pressing the scripted digits on the
        # way); waiting on the leg's end, not wait_media, which returns (and so hung up
        # the agent) when uuid_bridge takes the leg out of park (transfer_to) whenever
        # this greenlet woke before the park program did
        if self.talk_from == "bridge":
            clock.wait([leg.status.ended, leg.links.bridged], self.bridge_wait_s)
        talked = 0.0
        for at, digits in sorted(self.press):
            if at >= self.talk_s:
                break
            clock.wait([leg.status.ended], at - talked)
            talked = at
            if leg.status.hungup:
                break
            leg.queue_dtmf(digits, source="RTP")
        clock.wait([leg.status.ended], max(0.0, self.talk_s - talked))
        if not leg.status.hungup:
            leg.hangup("NORMAL_CLEARING")
        record["result"] = "answered"
        record["ended_at"] = clock.now()

    def _hold(self, leg: Channel) -> None:
        """The phone's hold key, at the scripted moments of the talk."""
        clock, start = leg.clock, leg.clock.now()
        for at, seconds in sorted(self.hold):
            clock.wait([leg.status.ended], max(0.0, start + at - clock.now()))
            if leg.status.hungup:
                return
            leg.mark_hold(True)
            clock.wait([leg.status.ended], seconds)
            if leg.status.hungup:
                return
            leg.mark_hold(False)

    def _blind_transfer(self, leg: Channel) -> None:
        """The phone's transfer key: REFER to the extension, then BYE."""
        at, exten = self.transfer
        leg.clock.wait([leg.status.ended], at)
        partner = leg.links.bridged_to
        if leg.status.hungup or partner is None or partner.status.hungup:
            return
        leg.set_var("sip_refer_to", f"<sip:{exten}@{leg.services.ipv4}>")
        leg.set_var("TRANSFER_FALLBACK", self.agent_id)
        # switch_ivr_session_transfer(b_session, exten, dialplan, context)
        partner.run.transfer_to = (str(exten), partner.profile.context)
        partner.profile.times["Channel-Transfer-Time"] = partner.now_us()
        partner.queue.wake.set()
        leg.set_var("endpoint_disposition", "BLIND_TRANSFER")
        leg.hangup("NORMAL_CLEARING")

    def _attended_transfer(self, leg: Channel) -> None:
        """The phone's transfer key bound to att_xfer (bind_meta_app runs it on the agent's
        leg, in its bridge); the agent consults, then hangs up to complete the transfer."""
        at, dial, consult_s = self.attended
        clock = leg.clock
        clock.wait([leg.status.ended], at)
        partner = leg.links.bridged_to
        if leg.status.hungup or partner is None or partner.status.hungup:
            return
        done = gevent.event.Event()
        gevent.spawn(leg.execute, "att_xfer", str(dial)).link(lambda _g: done.set())
        # the consultation starts when the colleague answers: att_xfer bridges the agent's
        # leg to them (an emulated phone watches its own line, a few frames at a time)
        while not (leg.status.hungup or done.is_set()) and leg.links.bridged_to in (None, partner):
            clock.wait([leg.status.ended, done], 0.05)
        if leg.status.hungup or done.is_set():
            return
        clock.wait([leg.status.ended, done], consult_s)
        if not leg.status.hungup and not done.is_set():
            leg.hangup("NORMAL_CLEARING")
