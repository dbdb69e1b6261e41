"""What a campaign file says, as frozen values (built by fsapp.campaign.loader)."""
from __future__ import annotations

from dataclasses import dataclass, field

# Outcomes of one attempt. The retryable ones have a retry interval in the file;
# `abandoned` (agent-assisted: answered, no agent in time) defaults to not_completed's.
RETRYABLE = ("busy", "no_answer", "failed", "not_completed", "abandoned")
RETRY_DEFAULTS = {"abandoned": "not_completed"}
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
class AgentAssist:
    """Progressive, agent-assisted mode: dial only as many contacts as the queue has free
    agents, bridge the answered callee to one (through fsapp.routing)."""
    queue: str                         # a queue of routing.yaml
    abandon_after_s: float = 2.0       # answered, and no agent took the call within this: abandoned
    max_abandon_rate: float = 0.03     # abandoned / answered over the window; above it, no new calls
    window_s: float = 86400.0          # the window of that rate (Ofcom: 24 hours per campaign)


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
    agents: AgentAssist | None = None  # agent-assisted: the callee talks to an agent; `flow` is then
    #                                    what an abandoned callee hears (the information message)
    description: str = ""
    lines: dict = field(default_factory=dict, compare=False)  # key -> (line, col), for later checks
