"""The bridge application: dial another leg, connect the two, wait until one side ends
(fsapp/sim/bridging.py does the connecting and what follows, for uuid_bridge too)."""
from __future__ import annotations

from .. import fsstrings
from ..bridging import after_bridge, connect
from ..channel import Channel
from ..legs import DialError, new_leg, originate_timeout, parse_vars, start_leg, wait_answer
from ..registry import application

DIALSTATUS = {"NO_ANSWER": "NOANSWER", "USER_BUSY": "BUSY", "SUCCESS": "SUCCESS"}


@application("bridge")
def bridge(ch: Channel, arg: str) -> None:
    cause = "NORMAL_CLEARING"
    leg = None
    try:
        global_vars, rest = parse_vars(arg)
    except DialError as exc:
        global_vars, rest, cause = {}, "", exc.cause
    ch.services.record_originate("bridge", arg, global_vars, rest)
    # '|' separates sequential alternatives; ',' simultaneous ones (tried in order here).
    for alternative in [leg for group in fsstrings.split_legs(rest) for leg in group]:
        try:
            leg_vars, endpoint = parse_vars(alternative)
        except DialError as exc:
            cause = exc.cause
            continue
        vars_ = {**global_vars, **leg_vars}
        timeout = originate_timeout({**{k: v for k, v in ch.vars.items()}, **vars_})
        try:
            # switch_ivr_originate: origination_caller_id_* of the leg's variables win over
            # the bridging channel's own caller id
            leg = new_leg(ch.services, endpoint.strip(), vars_, vars_.get("origination_caller_id_number") or ch.profile.cid_num,
                          vars_.get("origination_caller_id_name") or ch.profile.cid_name)
        except DialError as exc:
            cause, leg = exc.cause, None
            continue
        leg.links.originator = ch
        leg.links.other, leg.links.other_type = ch, "originator"
        if leg.profile.source == "mod_null":
            _originatee_vars(ch, leg)
        start_leg(ch.services, leg)
        failure = wait_answer(leg, timeout, early_ok=False, dialler=ch)
        if failure is None:
            break
        cause, leg = failure, None
        if ch.status.hungup:
            break
    if leg is None:
        ch.set_var("originate_disposition", cause)
        ch.set_var("DIALSTATUS", DIALSTATUS.get(cause, cause))
        ch.set_var("originate_failed_cause", cause)
        ch.set_var("originate_causes", cause)
        return
    if not ch.is_answered and not ch.status.hungup:
        ch.mark_answered()
    ch.set_var("originated_legs", f"{leg.uuid};Outbound Call;{leg.profile.destination}")
    ch.set_var("originate_disposition", "SUCCESS")
    ch.set_var("DIALSTATUS", "SUCCESS")
    ch.set_var("originate_causes", f"{leg.uuid};NONE")
    ch.set_var("signal_bond", leg.uuid)
    connect(ch, leg)
    after_bridge(ch, leg)


def _originatee_vars(ch: Channel, leg: Channel) -> None:
    """What switch_ivr_originate sets on a leg it creates (as captured for null/...)."""
    leg.set_var("call_uuid", None)
    for name, value in (("max_forwards", "70"), ("originator_codec", "L16@8000h@20i"),
                        ("originator", ch.uuid), ("signal_bond", ch.uuid), ("call_uuid", ch.uuid)):
        leg.set_var(name, value)
    if ch.get_var("ignore_early_media"):
        leg.set_var("ignore_early_media", ch.get_var("ignore_early_media"))
    for name, value in (("originate_early_media", "false"), ("originating_leg_uuid", ch.uuid),
                        ("originate_endpoint", "null")):
        leg.set_var(name, value)
