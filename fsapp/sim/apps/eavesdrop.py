"""The eavesdrop application: mod_dptools `eavesdrop <uuid>` and what
switch_ivr_eavesdrop_session (switch_ivr_async.c) does with it.

FreeSWITCH attaches a media bug named "eavesdrop" to the *target* channel (events
MEDIA_BUG_START / MEDIA_BUG_STOP on the target, headers Media-Bug-Function: eavesdrop and
Media-Bug-Target: <target uuid>) and loops until the target goes down, the eavesdropper
hangs up, or the eavesdropper presses `*`. The eavesdropper's variables choose what the
bug mixes (read on the eavesdropper's channel when the app starts):

    eavesdrop_whisper_aleg=true   ED_MUX_READ:  the eavesdropper's voice is mixed into what
                                  the target *reads*, i.e. the party the target talks to
                                  (its bridge peer) hears it
    eavesdrop_whisper_bleg=true   ED_MUX_WRITE: mixed into what is *written* to the target,
                                  i.e. the target itself hears it
    eavesdrop_bridge_aleg/_bleg   which sides the eavesdropper hears (neither set: both)
    eavesdrop_enable_dtmf         default true: DTMF 1 = mux read only, 2 = mux write only,
                                  3 = both, 0 = neither (listen), * = leave
    eavesdrop_require_group       the target's eavesdrop_group must list it, else no bug

With the agent's leg as the target: listen = neither, whisper to the agent = whisper_bleg,
barge (three-way) = both. There is no audio here: the bug's state (a Spy) is kept on both
channels so tests can see who hears whom: `spies(switch)`, `channel.spy`.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from ..channel import Channel
from ..fsstrings import switch_true as _true
from ..registry import application

log = logging.getLogger("fsapp.sim")

MEDIA_UP_WAIT_S = 6.0   # switch_ivr_eavesdrop_session waits 600 x 10 ms for the target's media


@dataclass
class Spy:
    """One eavesdrop media bug: `eavesdropper` on `target`."""
    eavesdropper: str
    target: str
    mux_read: bool          # the target's peer hears the eavesdropper
    mux_write: bool         # the target hears the eavesdropper
    hears_read: bool        # the eavesdropper hears the target's own voice
    hears_write: bool       # the eavesdropper hears what the target hears (its peer)
    dtmf: bool
    attached: bool = True   # the bug is on the target (MEDIA_BUG_STOP fires once, on removal)

    @property
    def mode(self) -> str:
        """listen | whisper-target | whisper-peer | barge (fsapp's names for the flags)."""
        return {(False, False): "listen", (False, True): "whisper-target",
                (True, False): "whisper-peer", (True, True): "barge"}[(self.mux_read, self.mux_write)]

    def apply_digit(self, digit: str) -> bool:
        """The DTMF commands of the eavesdrop loop; False for `*` (leave)."""
        if digit == "1":
            self.mux_read, self.mux_write = True, False
        elif digit == "2":
            self.mux_read, self.mux_write = False, True
        elif digit == "3":
            self.mux_read, self.mux_write = True, True
        elif digit == "0":
            self.mux_read, self.mux_write = False, False
        elif digit == "*":
            return False
        return True


def spies(switch, target: str | None = None) -> list[Spy]:
    """The eavesdrop bugs live on the switch (optionally only those on `target`)."""
    out = []
    for ch in list(switch.channels.values()):
        spy = getattr(ch, "spy", None)
        if spy is not None and (target is None or spy.target == target):
            out.append(spy)
    return out


def _detach(target: Channel, spy: Spy) -> None:
    """switch_core_media_bug_remove: MEDIA_BUG_STOP on the target, once."""
    if spy.attached:
        spy.attached = False
        target.fire("MEDIA_BUG_STOP", post=[("Media-Bug-Function", "eavesdrop"), ("Media-Bug-Target", target.uuid)])


def _remove_bugs_on_hangup(target: Channel) -> None:
    """FreeSWITCH removes a hung-up channel's media bugs (MEDIA_BUG_STOP) before
    CHANNEL_HANGUP_COMPLETE. Channel.hangup has no hook for that, so this target's hangup
    is wrapped (this instance only): after CHANNEL_HANGUP, its eavesdrop bugs go and the
    eavesdroppers wake up to leave."""
    if getattr(target, "eavesdrop_bugs", None) is not None:
        return
    target.eavesdrop_bugs = []
    original = target.hangup

    def hangup(cause: str = "NORMAL_CLEARING") -> bool:
        done = original(cause)
        if done:
            for spy in list(target.eavesdrop_bugs):
                _detach(target, spy)
                spy_channel = target.services.channels.get(spy.eavesdropper)
                if spy_channel is not None:
                    spy_channel.queue.wake.set()
        return done

    target.hangup = hangup


def _group_ok(target: Channel, required: str) -> bool:
    groups = [g for g in (target.get_var("eavesdrop_group") or "").split(",") if g]
    return required in groups


def _media_up(ch: Channel) -> bool:
    return ch.status.answer_state in ("answered", "early") and not ch.status.hungup


def _wait_media_up(ch: Channel, target: Channel) -> bool:
    deadline = ch.clock.now() + MEDIA_UP_WAIT_S
    while not _media_up(target) and not target.status.hungup and not ch.status.hungup:
        remaining = deadline - ch.clock.now()
        if remaining <= 0:
            return False
        ch.clock.wait([target.status.answered], min(remaining, 0.5))
    return _media_up(target) and not ch.status.hungup


@application("eavesdrop")
def app_eavesdrop(ch: Channel, arg: str) -> None:
    target_uuid = arg.strip()
    if not target_uuid:
        log.info("sim: eavesdrop on %s without a uuid (Usage: [all | <uuid>])", ch.uuid)
        return
    if target_uuid.lower() == "all":
        log.info("sim: eavesdrop all is not emulated; %s returns at once", ch.uuid)
        return
    target = ch.services.channels.get(target_uuid)
    if target is None or target is ch or target.status.hungup:
        return                                   # switch_core_session_locate failed
    if not _wait_media_up(ch, target):
        return
    required = ch.get_var("eavesdrop_require_group")
    if required and not _group_ok(target, required):
        return                                   # SWITCH_STATUS_BREAK: no bug attached
    enable_dtmf = ch.get_var("eavesdrop_enable_dtmf")
    bridge_a, bridge_b = _true(ch.get_var("eavesdrop_bridge_aleg")), _true(ch.get_var("eavesdrop_bridge_bleg"))
    if not (bridge_a or bridge_b):
        bridge_a = bridge_b = True               # "defaults to both, if neither is set"
    spy = Spy(eavesdropper=ch.uuid, target=target.uuid,
              mux_read=_true(ch.get_var("eavesdrop_whisper_aleg")),
              mux_write=_true(ch.get_var("eavesdrop_whisper_bleg")),
              hears_read=bridge_a, hears_write=bridge_b,
              dtmf=True if enable_dtmf is None else _true(enable_dtmf))
    if not _media_up(ch):
        ch.mark_pre_answered()                   # switch_channel_pre_answer(eavesdropper)
    _remove_bugs_on_hangup(target)
    ch.spy = spy
    target.eavesdrop_bugs.append(spy)
    target.fire("MEDIA_BUG_START", post=[("Media-Bug-Function", "eavesdrop"), ("Media-Bug-Target", target.uuid)])
    try:
        while not ch.status.hungup and not target.status.hungup:
            # wake_returns: re-check the target every wake-up or poll (its hangup does not
            # wake this channel)
            reason, _ = ch.wait_media(math.inf, dtmf="collect" if spy.dtmf else "keep", wake_returns=True)
            if reason == "break":
                break
            if spy.dtmf and ch.queue.dtmf and not spy.apply_digit(ch.take_dtmf()):
                break
    finally:
        ch.spy = None
        target.eavesdrop_bugs.remove(spy)
        if not target.status.ended.is_set():
            _detach(target, spy)
