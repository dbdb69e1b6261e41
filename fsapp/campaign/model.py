"""What a campaign file says, as frozen values (built by fsapp.campaign.loader)."""
from __future__ import annotations

from dataclasses import dataclass, field

# Outcomes of one attempt. The four retryable ones have a retry interval in the file.
RETRYABLE = ("busy", "no_answer", "failed", "not_completed")
OUTCOMES = ("completed",) + RETRYABLE + ("invalid_number", "excluded")

# Contact states (Newfies-Dialer's subscriber statuses, in fsapp words).
STATES = ("pending", "in_progress", "retry", "completed", "failed", "excluded", "invalid")
FINAL_STATES = ("completed", "failed", "excluded", "invalid")


@dataclass(frozen=True)
class ContactSource:
    csv: str | None = None             # path of a CSV file (columns: number, name, id, ...)
    query: str | None = None           # a named query, e.g. utility.outage_contacts
    params: dict = field(default_factory=dict)
    refresh_s: float = 3600.0          # a query is read again this often


@dataclass(frozen=True)
class Exclusion:
    dnc_file: str | None = None        # one number per line, '#' comments
    query: str | None = None           # rows with a `number` column; gets :since = campaign start
    params: dict = field(default_factory=dict)
    refresh_s: float = 300.0


@dataclass(frozen=True)
class Pacing:
    calls_per_minute: float
    max_concurrent: int
    gateways: dict = field(default_factory=dict)   # gateway -> max concurrent calls on it


@dataclass(frozen=True)
class Dial:
    template: str                      # e.g. sofia/gateway/{gateway}/{number}
    gateway: str = "default"
    caller_id: str = ""
    caller_id_name: str = ""
    timeout_s: float = 30.0            # ring time before NO_ANSWER
    max_duration_s: float = 600.0      # the longest an answered call may last


@dataclass(frozen=True)
class Retry:
    max_attempts: int
    after: dict                        # outcome in RETRYABLE -> seconds to wait before the next try


@dataclass(frozen=True)
class Campaign:
    name: str
    path: str
    flow: str                          # the flow run when the callee answers
    contacts: ContactSource
    calendar: str
    pacing: Pacing
    dial: Dial
    retry: Retry
    exclusions: tuple = ()
    collect: tuple = ()                # flow variables kept as the attempt's answers
    completed_when: str | None = None  # flow variable that must be truthy for "completed"
    description: str = ""
    lines: dict = field(default_factory=dict, compare=False)  # key -> (line, col), for later checks
