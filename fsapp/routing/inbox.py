"""What a waiting caller's greenlet is told, besides the Dispatcher's Assignment or
Decision: each arrives in its Ticket's inbox (one queue, read by one greenlet, so the
caller's state is changed in one place)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CallerGone:
    """The caller's channel hung up (CHANNEL_HANGUP, or a playback that found it gone)."""
    cause: str


@dataclass
class LeftQueue:
    """The caller pressed the queue's leave-key during the hold music."""
    digit: str


@dataclass
class StateLost:
    """The routing state stayed unreachable past the guard's grace: the caller goes to on_error."""


@dataclass
class OfferAnswered:
    """An agent's leg answered (originate returned its uuid)."""
    agent: str
    leg: str
    offer: str = ""       # which offer round: a late result of an earlier round is stale


@dataclass
class OfferFailed:
    """An agent's leg ended without answering, with the originate's hangup cause."""
    agent: str
    cause: str
    offer: str = ""
