"""Time on hold during an agent's talk, for the reports' AHT (talk + hold + wrap-up).

FreeSWITCH marks a leg held (switch_channel_mark_hold) when its phone puts the call on
hold (a re-INVITE with a=sendonly, the hold key of the agent's phone) or when `uuid_hold`
names it, and fires CHANNEL_HOLD on that leg; CHANNEL_UNHOLD when it ends. Either leg of
the bridged call may be the held one, so a talk is on hold while at least one of its legs
is (both at once count once).

    holds = HoldTimes(clock)            # esl.on("CHANNEL_HOLD"/"CHANNEL_UNHOLD", holds.on_event)
    talk = holds.watch(agent_leg, caller_leg)
    ...                                 # the call goes on
    hold_s = holds.done(talk)           # seconds on hold, an open hold counted up to now
"""
from __future__ import annotations

from typing import Callable


class Talk:
    """The hold state of one bridged call: pure, fed with (leg, held, time)."""

    def __init__(self, legs: tuple[str, ...]):
        self.legs = legs
        self.held: set[str] = set()
        self.since: float | None = None       # when the current hold began
        self.total = 0.0

    def mark(self, leg: str, held: bool, at: float) -> None:
        was = bool(self.held)
        (self.held.add if held else self.held.discard)(leg)
        if not was and self.held:
            self.since = at
        elif was and not self.held and self.since is not None:
            self.total += max(0.0, at - self.since)
            self.since = None

    def seconds(self, now: float) -> float:
        return self.total + (max(0.0, now - self.since) if self.since is not None else 0.0)


class HoldTimes:
    """Talks by leg uuid, updated from the switch's hold events."""

    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self._by_leg: dict[str, Talk] = {}

    def watch(self, *legs: str) -> Talk:
        talk = Talk(legs)
        for leg in legs:
            self._by_leg[leg] = talk
        return talk

    def on_event(self, event) -> None:
        talk = self._by_leg.get(event.get("Unique-ID") or "")
        if talk is not None:
            talk.mark(event.get("Unique-ID"), event.get("Event-Name") == "CHANNEL_HOLD", self._when(event))

    def _when(self, event) -> float:
        """The switch's time of the event (Event-Date-Timestamp, microseconds): how long
        the events took to reach fsapp does not change the hold time; else now."""
        try:
            return int(event.get("Event-Date-Timestamp")) / 1_000_000
        except (TypeError, ValueError):
            return self.clock()

    def done(self, talk: Talk) -> float:
        for leg in talk.legs:
            if self._by_leg.get(leg) is talk:
                del self._by_leg[leg]
        return talk.seconds(self.clock())
