"""A business calendar: weekly opening windows, public holidays (the `holidays`
package, China's make-up working days included), extra holidays and working days,
one-off closures, in one time zone.

Answering "is it open, and in which mode" is pure: no clock is read here, callers pass
the moment. Precedence, strongest first: closure, make-up working day, holiday, week.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import holidays as holidays_lib

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOSED_MODES = frozenset({"night", "holiday", "closed"})


@dataclass(frozen=True)
class Window:
    """[start, end) local wall-clock window of one day, with the mode it puts the line in."""
    start: dt.time
    end: dt.time | None  # None means midnight at the end of the day ("24:00")
    mode: str = "day"

    def contains(self, t: dt.time) -> bool:
        return self.start <= t and (self.end is None or t < self.end)


@dataclass(frozen=True)
class Closure:
    start: dt.datetime  # aware
    end: dt.datetime
    reason: str = ""


@dataclass
class Calendar:
    name: str
    tz: ZoneInfo
    weekly: dict[int, list[Window]]           # weekday (0 = Monday) -> windows
    country: str | None = None
    subdivision: str | None = None
    extra_holidays: dict[dt.date, str] = field(default_factory=dict)
    workdays: set[dt.date] = field(default_factory=set)  # open despite weekend/holiday
    workday_hours_from: int = 0               # which weekday's hours a make-up workday uses
    holiday_hours: list[Window] = field(default_factory=list)  # reduced service on holidays
    closures: list[Closure] = field(default_factory=list)
    closed_mode: str = "night"
    _public: dict = field(default_factory=dict, repr=False)

    # -- public holidays, computed per year on demand ---------------------------------
    def _year(self, year: int):
        if year not in self._public:
            if self.country:
                self._public[year] = holidays_lib.country_holidays(
                    self.country, subdiv=self.subdivision, years=year)
            else:
                self._public[year] = None
        return self._public[year]

    def holiday_name(self, day: dt.date) -> str | None:
        """Name of the holiday on `day` (local date), or None if it is not one."""
        if day in self.extra_holidays:
            return self.extra_holidays[day]
        public = self._year(day.year)
        return public.get(day) if public is not None else None

    def is_makeup_workday(self, day: dt.date) -> bool:
        if day in self.workdays:
            return True
        public = self._year(day.year)
        return bool(public is not None and day in getattr(public, "weekend_workdays", ()))

    # -- the questions flows and the router ask ---------------------------------------
    def local(self, moment: dt.datetime) -> dt.datetime:
        """`moment` in the calendar's zone; a naive datetime is taken as local time."""
        if moment.tzinfo is None:
            return moment.replace(tzinfo=self.tz)
        return moment.astimezone(self.tz)

    def windows_on(self, day: dt.date) -> tuple[list[Window], str]:
        """The windows in force on a local date and the mode outside them."""
        if self.is_makeup_workday(day):
            return self.weekly.get(self.workday_hours_from, []), self.closed_mode
        if self.holiday_name(day) is not None:
            return self.holiday_hours, "holiday"
        return self.weekly.get(day.weekday(), []), self.closed_mode

    def closure_at(self, moment: dt.datetime) -> Closure | None:
        aware = self.local(moment)
        for closure in self.closures:
            if closure.start <= aware < closure.end:
                return closure
        return None

    def mode(self, moment: dt.datetime) -> str:
        """'day' (or a window's own mode name) when open; 'night', 'holiday' or 'closed'."""
        if self.closure_at(moment) is not None:
            return "closed"
        local = self.local(moment)
        windows, outside = self.windows_on(local.date())
        for window in windows:
            if window.contains(local.time().replace(tzinfo=None)):
                return window.mode
        return outside

    def is_open(self, moment: dt.datetime) -> bool:
        return self.mode(moment) not in CLOSED_MODES

    def next_open(self, moment: dt.datetime, horizon_days: int = 400) -> dt.datetime | None:
        """The first moment at or after `moment` when the calendar is open (None if none
        within the horizon). Used to schedule callbacks only within business hours."""
        local = self.local(moment)
        if self.is_open(local):
            return local
        day = local.date()
        for offset in range(horizon_days + 1):
            current = day + dt.timedelta(days=offset)
            windows, _ = self.windows_on(current)
            for window in sorted(windows, key=lambda w: w.start):
                if window.mode in CLOSED_MODES:
                    continue
                start = dt.datetime.combine(current, window.start, tzinfo=self.tz)
                end = (dt.datetime.combine(current + dt.timedelta(days=1), dt.time(0), tzinfo=self.tz)
                       if window.end is None else
                       dt.datetime.combine(current, window.end, tzinfo=self.tz))
                candidate = max(start, local)
                if candidate >= end:
                    continue
                # a closure may cover the start of the window: move past it
                while (closure := self.closure_at(candidate)) is not None and candidate < end:
                    candidate = closure.end.astimezone(self.tz)
                if candidate < end:
                    return candidate
        return None
