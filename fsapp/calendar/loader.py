"""calendars.yaml -> {name: Calendar}, every mistake reported as file:line.

    calendars:
      office_hours:
        timezone: Asia/Shanghai
        country: CN                 # public holidays (and make-up working days) from `holidays`
        weekly:
          mon-fri: ["08:30-12:00", "13:30-17:30"]
          sat: "09:00-12:00"
        holiday_hours: ["09:00-17:00 holiday_service"]   # optional reduced service
        holidays: [2026-12-31]      # extra days off (or {date: ..., name: ...})
        workdays: [2026-02-14]      # extra working days (use workday_hours_from's hours)
        closures:
          - {from: "2026-12-24 18:00", to: "2026-12-25 09:00", reason: maintenance}

A window is "HH:MM-HH:MM" optionally followed by a mode name ("18:00-22:00 evening");
the default mode is "day", outside the windows the mode is `closed_mode` ("night").
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib

from fsapp.calendar.model import CLOSED_MODES, DAYS, Calendar, Closure, Window
from fsapp.yamlsrc import Located, LocatedList, SourceError, load_located, loads_located

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})(?:\s+([A-Za-z_][\w-]*))?\s*$")
_KEYS = {"timezone", "country", "subdivision", "weekly", "holiday_hours", "holidays", "workdays",
         "workday_hours_from", "closures", "closed_mode", "description"}


def load_calendars(path: str | Path) -> dict[str, Calendar]:
    """Load and validate calendars.yaml; raises SourceError naming file:line."""
    return parse_calendars(load_located(path), path)


def loads_calendars(text: str, path: str = "<string>") -> dict[str, Calendar]:
    return parse_calendars(loads_located(text, path), path)


def parse_calendars(doc, path) -> dict[str, Calendar]:
    if not isinstance(doc, Located) or "calendars" not in doc:
        raise SourceError.in_file(path, getattr(doc, "line", 1), "expected a top-level 'calendars:' mapping")
    table = doc["calendars"]
    if not isinstance(table, Located) or not table:
        raise SourceError.in_file(path, doc.key_line("calendars"),
                          "'calendars' must map calendar names to their definitions")
    return {str(name): _calendar(str(name), spec, path, table.key_line(name))
            for name, spec in table.items()}


def _calendar(name: str, spec, path, line: int) -> Calendar:
    if not isinstance(spec, Located):
        raise SourceError.in_file(path, line, f"calendar {name!r} must be a mapping (timezone, weekly, ...)")
    for key in spec:
        if key not in _KEYS:
            raise SourceError.in_file(path, spec.key_line(key),
                              f"calendar {name!r}: unknown key {key!r}; known: {', '.join(sorted(_KEYS))}")
    if "timezone" not in spec:
        raise SourceError.in_file(path, line, f"calendar {name!r}: 'timezone' is required (e.g. Asia/Shanghai)")
    try:
        tz = ZoneInfo(str(spec["timezone"]))
    except (ZoneInfoNotFoundError, ValueError):
        raise SourceError.in_file(path, spec.key_line("timezone"),
                          f"unknown time zone {spec['timezone']!r}; use an IANA name like Asia/Shanghai") from None
    country = spec.get("country")
    subdivision = spec.get("subdivision")
    if country is not None:
        try:
            holidays_lib.country_holidays(str(country), subdiv=subdivision, years=2026)
        except (NotImplementedError, KeyError, ValueError) as exc:
            raise SourceError.in_file(path, spec.key_line("country"),
                              f"holidays for country {country!r} / subdivision {subdivision!r} "
                              f"are not available ({exc}); use an ISO code such as CN") from None
    weekly = _weekly(spec.get("weekly"), path, spec.key_line("weekly"), name)
    from_day = str(spec.get("workday_hours_from", "mon")).lower()
    if from_day not in DAYS:
        raise SourceError.in_file(path, spec.key_line("workday_hours_from"),
                          f"workday_hours_from {from_day!r} is not one of {', '.join(DAYS)}")
    closed_mode = str(spec.get("closed_mode", "night"))
    if closed_mode not in CLOSED_MODES:
        raise SourceError.in_file(path, spec.key_line("closed_mode"),
                          f"closed_mode must be one of {', '.join(sorted(CLOSED_MODES))}")
    return Calendar(
        name=name, tz=tz, weekly=weekly, country=str(country) if country else None,
        subdivision=str(subdivision) if subdivision else None,
        extra_holidays=_holidays(spec.get("holidays", []), path, spec.key_line("holidays")),
        workdays=set(_dates(spec.get("workdays", []), path, spec.key_line("workdays"), "workdays")),
        workday_hours_from=DAYS.index(from_day),
        holiday_hours=_windows(spec.get("holiday_hours", []), path, spec.key_line("holiday_hours")),
        closures=_closures(spec.get("closures", []), tz, path, spec.key_line("closures")),
        closed_mode=closed_mode,
    )


def _day_range(key: str, path, line: int) -> list[int]:
    key = key.strip().lower()
    if key in ("daily", "all", "mon-sun"):
        return list(range(7))
    days: list[int] = []
    for part in key.split(","):
        part = part.strip()
        if "-" in part:
            first, last = (p.strip() for p in part.split("-", 1))
        else:
            first = last = part
        if first not in DAYS or last not in DAYS:
            raise SourceError.in_file(path, line, f"weekly: {key!r} is not a day or day range "
                                          f"(use mon, tue, ... sun, e.g. mon-fri or sat,sun)")
        a, b = DAYS.index(first), DAYS.index(last)
        if b < a:
            raise SourceError.in_file(path, line, f"weekly: day range {part!r} runs backwards; write it as {last}-{first}?")
        days.extend(range(a, b + 1))
    return days


def _weekly(spec, path, line: int, name: str) -> dict[int, list[Window]]:
    if spec is None:
        raise SourceError.in_file(path, line, f"calendar {name!r}: 'weekly' is required "
                                      f"(e.g. mon-fri: [\"08:30-17:30\"])")
    if not isinstance(spec, Located):
        raise SourceError.in_file(path, line, "weekly must map days (mon-fri, sat, ...) to windows")
    weekly: dict[int, list[Window]] = {}
    for key, value in spec.items():
        key_line = spec.key_line(key)
        for day in _day_range(str(key), path, key_line):
            if day in weekly:
                raise SourceError.in_file(path, key_line, f"weekly: {DAYS[day]} is given twice")
            weekly[day] = _windows(value, path, key_line)
    return weekly


def _windows(value, path, line: int) -> list[Window]:
    if value in (None, "closed"):
        return []
    items = value if isinstance(value, list) else [value]
    windows: list[Window] = []
    for index, item in enumerate(items):
        item_line = value.item_line(index) if isinstance(value, LocatedList) else line
        if not isinstance(item, str):
            raise SourceError.in_file(path, item_line, f"window {item!r} must be a quoted string like "
                                               f"\"08:30-17:30\" (YAML reads unquoted 9:30 as a number)")
        match = _WINDOW.match(item)
        if not match:
            raise SourceError.in_file(path, item_line, f"window {item!r} is not HH:MM-HH:MM [mode]")
        h1, m1, h2, m2, mode = match.groups()
        h1, m1, h2, m2 = int(h1), int(m1), int(h2), int(m2)
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise SourceError.in_file(path, item_line, f"window {item!r}: hours 00-24, minutes 00-59")
        start = dt.time(h1, m1)
        end = None if h2 == 24 else dt.time(h2, m2)
        if end is not None and end <= start:
            raise SourceError.in_file(path, item_line, f"window {item!r} ends before it starts; split a window "
                                               f"across midnight into two (\"22:00-24:00\" and \"00:00-06:00\")")
        windows.append(Window(start, end, mode or "day"))
    ordered = sorted(windows, key=lambda w: w.start)
    for before, after in zip(ordered, ordered[1:]):
        if before.end is None or after.start < before.end:
            raise SourceError.in_file(path, line, f"windows overlap: {before.start:%H:%M} and {after.start:%H:%M}")
    return windows


def _dates(value, path, line: int, what: str) -> list[dt.date]:
    if not isinstance(value, list):
        raise SourceError.in_file(path, line, f"{what} must be a list of dates (YYYY-MM-DD)")
    out = []
    for index, item in enumerate(value):
        item_line = value.item_line(index) if isinstance(value, LocatedList) else line
        out.append(_date(item, path, item_line, what))
    return out


def _date(item, path, line: int, what: str) -> dt.date:
    if isinstance(item, dt.datetime):
        return item.date()
    if isinstance(item, dt.date):
        return item
    try:
        return dt.date.fromisoformat(str(item))
    except ValueError:
        raise SourceError.in_file(path, line, f"{what}: {item!r} is not a date (YYYY-MM-DD)") from None


def _holidays(value, path, line: int) -> dict[dt.date, str]:
    if not isinstance(value, list):
        raise SourceError.in_file(path, line, "holidays must be a list of dates or {date: ..., name: ...}")
    out: dict[dt.date, str] = {}
    for index, item in enumerate(value):
        item_line = value.item_line(index) if isinstance(value, LocatedList) else line
        if isinstance(item, Located):
            if "date" not in item:
                raise SourceError.in_file(path, item_line, "holiday entry needs 'date' (and optionally 'name')")
            out[_date(item["date"], path, item_line, "holidays")] = str(item.get("name", "holiday"))
        else:
            out[_date(item, path, item_line, "holidays")] = "holiday"
    return out


def _moment(value, tz: ZoneInfo, path, line: int, what: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time(0))
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise SourceError.in_file(path, line, f"closure {what} {value!r} is not 'YYYY-MM-DD HH:MM'") from None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def _closures(value, tz: ZoneInfo, path, line: int) -> list[Closure]:
    if not isinstance(value, list):
        raise SourceError.in_file(path, line, "closures must be a list of {from: ..., to: ..., reason: ...}")
    out = []
    for index, item in enumerate(value):
        item_line = value.item_line(index) if isinstance(value, LocatedList) else line
        if not isinstance(item, Located) or "from" not in item or "to" not in item:
            raise SourceError.in_file(path, item_line, "a closure needs 'from' and 'to' (\"YYYY-MM-DD HH:MM\")")
        start = _moment(item["from"], tz, path, item_line, "from")
        end = _moment(item["to"], tz, path, item_line, "to")
        if end <= start:
            raise SourceError.in_file(path, item_line, "closure ends before it starts")
        out.append(Closure(start, end, str(item.get("reason", ""))))
    return out
