"""Pure: which column of the board an agent stands in.

The ACD keeps two things per agent (mod_callcenter's vocabulary): a status the agent
chooses (Logged Out, Available, On Break) and a state the ACD derives (Waiting,
Receiving, In a queue call, Idle = wrap-up or a no-answer delay). Supervisors watch one
word per agent; BOARD_STATES are those words, in the order the board shows them.
"""
from __future__ import annotations

from fsapp.routing.model import AgentRecord, AgentState, AgentStatus, Member, MemberState

BOARD_STATES = ("available", "ringing", "on_call", "wrap_up", "break", "logged_out")


def board_state(agent: AgentRecord, now: float) -> str:
    if agent.status is AgentStatus.LOGGED_OUT:
        return "logged_out"
    state = agent.state(now)
    # a call in progress outranks the status: an agent who chose a break while talking
    # is still on the call until it ends
    if state is AgentState.IN_A_QUEUE_CALL:
        return "on_call"
    if state in (AgentState.RECEIVING, AgentState.RESERVED):
        return "ringing"
    if agent.status is AgentStatus.ON_BREAK:
        return "break"
    if state is AgentState.IDLE:
        return "wrap_up"
    return "available"


def count_by_state(agents, now: float) -> dict[str, int]:
    counts = dict.fromkeys(BOARD_STATES, 0)
    for agent in agents:
        counts[board_state(agent, now)] += 1
    return counts


def callers_waiting(member: Member) -> bool:
    """A caller on hold: not yet talking (agents may be ringing), and not a callback
    request (those wait without a channel)."""
    return member.state in (MemberState.WAITING, MemberState.TRYING) and not member.callback_number
