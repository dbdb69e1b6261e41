"""Creating call legs from dial strings: loopback/, user/ (scripted agents),
sofia/gateway/GW/NUMBER (scripted callees), null/, error/.

`dial()` is shared by the originate API and the bridge application. It returns the
leg that is (or will be) connected to the dialler, and waits for answer with a
deadline, like switch_ivr_originate().
"""
from __future__ import annotations

import logging

import gevent

from . import fsstrings
from .channel import Channel

log = logging.getLogger("fsapp.sim")



class DialError(Exception):
    def __init__(self, cause: str):
        super().__init__(cause)
        self.cause = cause


def parse_vars(dial: str) -> tuple[dict[str, str], str]:
    """Strip the leading <..>, {..} and [..] blocks as switch_ivr_originate does
    (fsstrings: brackets counted, values unescaped twice); return (vars, rest). A value
    with `${` is not set (var_check: FreeSWITCH logs "Invalid data" and skips it)."""
    out: dict[str, str] = {}
    dial = dial.lstrip(" ")
    while dial[:1] in ("<", "{", "["):
        if dial[0] == "[":
            parsed = fsstrings.leg_vars(fsstrings.mark_leg_commas(dial))
        else:
            parsed = fsstrings.create_brackets(dial, dial[0], {"<": ">", "{": "}"}[dial[0]])
        if parsed is None:
            raise DialError("INVALID_NUMBER_FORMAT")     # "Parse Error!" in switch_ivr_originate
        pairs, dial = parsed
        for name, value in pairs:
            if fsstrings.var_check_const(value):
                log.warning("sim: invalid data (%s contains a variable), not set", name)
                continue
            out[name] = value
        dial = dial.lstrip(" ")
    return out, dial.strip()


def take_origination_uuid(services, vars_: dict[str, str]) -> str | None:
    """The uuid the new channel must get, removed from vars_ as FreeSWITCH removes it
    once used (switch_ivr_originate). A uuid a live channel already has is refused:
    the endpoint cannot create the session ("Duplicate UUID!" in
    switch_core_session_request_uuid), so the dial fails."""
    wanted = (vars_.pop("origination_uuid", None) or "").strip()
    if not wanted:
        return None
    if wanted in services.channels:
        log.warning("sim: origination_uuid %s is in use by a live channel (Duplicate UUID!)", wanted)
        raise DialError("DESTINATION_OUT_OF_ORDER")
    return wanted


def new_leg(services, endpoint: str, vars_: dict[str, str], cid_num: str, cid_name: str = "") -> Channel:
    """Create (not start) the leg a dial string names. Raises DialError for bad endpoints.
    `origination_uuid` in vars_ becomes the uuid of the leg returned (for loopback the
    A leg, the one originate reports)."""
    vars_ = dict(vars_)
    uuid = take_origination_uuid(services, vars_)
    kind, _, rest = endpoint.partition("/")
    var_list = list(vars_.items())
    if kind == "loopback":
        ext, _, ctx = rest.partition("/")
        if not ext:
            raise DialError("INVALID_NUMBER_FORMAT")
        ctx = ctx or "default"
        a = Channel(services, name=f"loopback/{ext}-a", direction="outbound", destination=ext, context=ctx,
                    cid_num=cid_num, cid_name=cid_name, callee_num=ext, hit_dialplan=False,
                    variables=var_list, uuid=uuid)
        b_vars = [(k, v) for k, v in var_list]
        b = Channel(services, name=f"loopback/{ext}-b", direction="inbound", destination=ext, context=ctx,
                    cid_num=cid_num, cid_name=cid_name, callee_num=ctx if "/" in rest else ext,
                    variables=b_vars + [("other_loopback_leg_uuid", a.uuid), ("loopback_leg", "B")])
        for k, v in (("originate_early_media", "true"), ("originate_endpoint", "loopback")):
            a.set_var(k, v)
        a.set_var("other_loopback_leg_uuid", b.uuid)
        a.set_var("loopback_leg", "A")
        a.links.loopback = b.links.loopback = True
        a.links.peer, b.links.peer = b, a
        a.loopback_b = b
        return a
    if kind == "user":
        agent_id = rest.split("@")[0]
        agent = services.agents.get(agent_id)
        if agent is None:
            known = ", ".join(f"user/{a}" for a in sorted(services.agents)) or "none"
            services.note_unreachable(f"user/{rest} is not registered: no emulated agent {agent_id!r} "
                                    f"(agents: {known}; add one with add_agent)")
            raise DialError("USER_NOT_REGISTERED")
        return agent.new_leg(services, var_list, cid_num, cid_name, uuid=uuid)
    if kind == "sofia" and rest.startswith("gateway/"):
        # an outbound call through a carrier gateway: the scripted endpoint with that
        # number answers; a number nobody scripted is what a carrier answers with 404
        gateway, _, number = rest[len("gateway/"):].partition("/")
        if gateway in services.trunks and number:
            return _trunk_leg(services, services.trunks[gateway], gateway, number, var_list, cid_num, cid_name, uuid)
        agent = services.agents.get(number)
        if not number:
            raise DialError("INVALID_NUMBER_FORMAT")
        if agent is None:
            raise DialError("UNALLOCATED_NUMBER")
        return agent.new_leg(services, var_list, cid_num, cid_name, uuid=uuid)
    if kind == "null":
        leg = Channel(services, name=f"null/{rest}", direction="outbound", destination=rest,
                      cid_num=cid_num, cid_name=cid_name, callee_num=rest, source="mod_null",
                      hit_dialplan=False, variables=var_list, uuid=uuid)
        leg.auto_answer = True
        return leg
    if kind == "error":
        raise DialError(rest.upper() or "NORMAL_CLEARING")
    raise DialError("CHAN_NOT_IMPLEMENTED")


def _trunk_leg(services, other, gateway: str, number: str, var_list, cid_num: str, cid_name: str,
               uuid: str | None) -> Channel:
    """A SIP trunk to another emulated node: the outbound leg here and its inbound partner
    there (start_leg runs the other node's dialplan for it, like a loopback's B leg); as
    mod_sofia does with received X- headers, the partner gets the `sip_h_X-*` variables."""
    a = Channel(services, name=f"sofia/gateway/{gateway}/{number}", direction="outbound", destination=number,
                cid_num=cid_num, cid_name=cid_name, callee_num=number, source="mod_sofia",
                hit_dialplan=False, variables=var_list, uuid=uuid)
    headers = [(k, v) for k, v in var_list if k.startswith("sip_h_X-")]
    b = Channel(other, name=f"sofia/external/{number}@{other.ipv4}", direction="inbound", destination=number,
                context="default", cid_num=cid_num, cid_name=cid_name, callee_num=number,
                source="mod_sofia", variables=headers)
    a.links.peer, b.links.peer = b, a
    a.loopback_b = b
    return a


def start_leg(services, leg: Channel) -> None:
    """Start the leg's lifecycle (and its loopback partner's dialplan)."""
    b = getattr(leg, "loopback_b", None)
    leg.run.program = _wait_until_hangup
    leg.start()
    if b is not None:
        b.run.program = b.services.route   # through the dialplan (of the other node, over a trunk)
        b.start()
    elif getattr(leg, "auto_answer", False):
        gevent.spawn(leg.mark_answered)
    elif getattr(leg, "agent", None) is not None:
        leg.agent.ring(leg)


def _wait_until_hangup(ch: Channel) -> None:
    while not ch.status.hungup and not ch.run.transfer_to and ch.run.program is None:
        ch.queue.wake.clear()
        if ch.queue.msgs:
            ch.run_message(ch.queue.msgs.popleft())
            continue
        if ch.status.hungup or ch.run.transfer_to or ch.run.program is not None:
            break
        ch.queue.wake.wait(timeout=0.5)


def wait_answer(leg: Channel, timeout_s: float, early_ok: bool, dialler: Channel | None = None) -> str | None:
    """Wait for answer (or early media when early_ok). Returns None or a failure cause."""
    clock = leg.clock
    deadline = clock.now() + timeout_s
    while True:
        if leg.status.hungup:
            return leg.status.hangup_cause or "NORMAL_CLEARING"
        if leg.status.answer_state == "answered" or (early_ok and leg.status.answer_state == "early"):
            return None
        if dialler is not None and dialler.status.hungup:
            leg.hangup("ORIGINATOR_CANCEL")
            return "ORIGINATOR_CANCEL"
        remaining = deadline - clock.now()
        if remaining <= 0:
            leg.hangup("NO_ANSWER" if leg.status.answer_state != "early" else "NO_ANSWER")
            return "NO_ANSWER"
        leg.status.answered.clear()
        if leg.status.hungup or leg.status.answer_state == "answered":
            continue
        waiters = [leg.status.answered] + ([dialler.queue.wake] if dialler is not None else [])
        clock.wait(waiters, remaining)


def originate_timeout(vars_: dict[str, str], default: float = 60.0) -> float:
    for key in ("leg_timeout", "originate_timeout", "call_timeout"):
        if vars_.get(key, "").strip().isdigit():
            return float(vars_[key])
    return default
