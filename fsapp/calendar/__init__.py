"""Business calendars shared by flows (the `schedule` node) and routing (callbacks,
overflow by time of day): `load_calendars(path)["office_hours"].is_open(dt)` / `.mode(dt)`."""
from fsapp.calendar.loader import load_calendars, loads_calendars
from fsapp.calendar.model import CLOSED_MODES, Calendar, Closure, Window
from fsapp.yamlsrc import SourceError

CalendarError = SourceError

__all__ = ["Calendar", "CalendarError", "Closure", "Window", "CLOSED_MODES", "SourceError",
           "load_calendars", "loads_calendars"]
