"""Report periods: the range a report covers, how it is cut into buckets, and the range it
is compared with. Pure: dates in, datetimes out (naive local time, as the store keeps them).

    Range.parse("day", "2026-12-07")            # that day, 00:00 to the next 00:00
    Range.parse("week", "2026-12-07")           # Monday to Monday of that week
    Range.parse("month", "2026-12")             # the month; "year": "2026"
    Range.parse("range", "2026-12-01..2026-12-15")   # from the first day to the end of the last
    rng.buckets("30")                           # 30-minute intervals; "day", "week", "month", "year", "total"
    rng.compared("week")                        # this Monday vs last Monday; "year": same dates a year earlier
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

PERIODS = ("day", "week", "month", "year", "range")
BY = ("15", "30", "60", "day", "week", "month", "year", "total")
COMPARE = ("previous", "week", "year")


class PeriodError(ValueError):
    pass


def _date(text: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError(f"{what}: {text!r} is not a date; write YYYY-MM-DD") from None


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day)


@dataclass(frozen=True)
class Bucket:
    start: dt.datetime
    end: dt.datetime

    @property
    def label(self) -> str:
        if self.end - self.start < dt.timedelta(days=1):
            return self.start.strftime("%Y-%m-%d %H:%M")
        if self.end - self.start == dt.timedelta(days=1):
            return self.start.strftime("%Y-%m-%d")
        return f"{self.start:%Y-%m-%d}..{self.end - dt.timedelta(days=1):%Y-%m-%d}"


@dataclass(frozen=True)
class Range:
    start: dt.datetime
    end: dt.datetime          # exclusive
    kind: str = "range"

    @classmethod
    def parse(cls, period: str, when: str | None = None, today: dt.date | None = None) -> "Range":
        today = today or dt.date.today()
        if period not in PERIODS:
            raise PeriodError(f"--period {period!r}: one of {', '.join(PERIODS)}")
        text = (when or "").strip()
        if period == "day":
            day = _date(text, "--date") if text else today
            return cls(_midnight(day), _midnight(day + dt.timedelta(days=1)), "day")
        if period == "week":
            day = _date(text, "--date") if text else today
            monday = day - dt.timedelta(days=day.weekday())
            return cls(_midnight(monday), _midnight(monday + dt.timedelta(days=7)), "week")
        if period == "month":
            try:
                first = dt.date.fromisoformat(f"{text}-01") if text else today.replace(day=1)
            except ValueError:
                raise PeriodError(f"--date {text!r}: a month is YYYY-MM") from None
            return cls(_midnight(first), _midnight(_add_months(first, 1)), "month")
        if period == "year":
            if text and not (text.isdigit() and len(text) == 4):
                raise PeriodError(f"--date {text!r}: a year is YYYY")
            year = int(text) if text else today.year
            return cls(dt.datetime(year, 1, 1), dt.datetime(year + 1, 1, 1), "year")
        first, sep, last = text.partition("..")
        if not sep:
            raise PeriodError(f"--date {text!r}: a range is FIRST..LAST, e.g. 2026-12-01..2026-12-15")
        a, b = _date(first, "--date"), _date(last, "--date")
        if b < a:
            raise PeriodError(f"--date {text!r}: the last day is before the first")
        return cls(_midnight(a), _midnight(b + dt.timedelta(days=1)), "range")

    def buckets(self, by: str) -> list[Bucket]:
        """The intervals the report is cut into, in order, covering the whole range."""
        if by not in BY:
            raise PeriodError(f"--by {by!r}: one of {', '.join(BY)}")
        if by == "total":
            return [Bucket(self.start, self.end)]
        out, at = [], self.start
        while at < self.end:
            if by.isdigit():
                nxt = at + dt.timedelta(minutes=int(by))
            elif by == "day":
                nxt = at + dt.timedelta(days=1)
            elif by == "week":
                nxt = _midnight(at.date() - dt.timedelta(days=at.weekday()) + dt.timedelta(days=7))
            elif by == "month":
                nxt = _midnight(_add_months(at.date(), 1))
            else:
                nxt = dt.datetime(at.year + 1, 1, 1)
            out.append(Bucket(at, min(nxt, self.end)))
            at = nxt
        return out

    def fixed_step(self, by: str) -> int | None:
        """Seconds per bucket when every bucket has the same length from the range start
        (minutes, days, weeks from a Monday); None when calendar buckets (month, year)."""
        if by.isdigit():
            return int(by) * 60
        if by == "day":
            return 86400
        if by == "week" and self.start.weekday() == 0:
            return 7 * 86400
        return None

    def compared(self, how: str) -> "Range":
        """The range this one is compared with: the one just before, the same days a week
        earlier, or the same dates a year earlier."""
        if how not in COMPARE:
            raise PeriodError(f"--compare {how!r}: one of {', '.join(COMPARE)}")
        if how == "week":
            return Range(self.start - dt.timedelta(days=7), self.end - dt.timedelta(days=7), self.kind)
        if how == "year":
            def back(t: dt.datetime) -> dt.datetime:
                try:
                    return t.replace(year=t.year - 1)
                except ValueError:          # 29 February
                    return t.replace(year=t.year - 1, day=28)
            return Range(back(self.start), back(self.end), self.kind)
        if self.kind == "month":
            first = _add_months(self.start.date(), -1)
            return Range(_midnight(first), self.start, "month")
        if self.kind == "year":
            return Range(self.start.replace(year=self.start.year - 1), self.start, "year")
        span = self.end - self.start
        return Range(self.start - span, self.start, self.kind)

    @property
    def label(self) -> str:
        return Bucket(self.start, self.end).label
