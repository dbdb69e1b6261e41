"""fsapp's own tables, described once and rendered per dialect by fsapp.store.dialects.

All tables carry `idem_key`, unique: the outbox's idempotency key, which makes a
replayed write a no-op when the row is already there. Timestamps are naive local time
of the fsapp host (set TZ to the call centre's zone), with millisecond precision.

Outbox kinds map to tables through WRITE_KINDS; `store.write(kind, row)` accepts only
the columns listed here (a typo in a flow is an error at once, not a lost record).
"""
from __future__ import annotations

from .dialects import Column as C
from .dialects import Table

ID = C("id", "id")
KEY = C("idem_key", "str", 200, nullable=False)  # e.g. "<call uuid>:<node>:<visit>"
CALL_UUID = C("call_uuid", "str", 64)
CREATED = C("created_at", "datetime", nullable=False)

TICKET_KINDS = ("mailbox", "complaint", "work_order")
TICKET_STATUSES = ("accepted", "in_progress", "forwarded", "closed")

TICKETS = Table("fsapp_tickets", "tk", (
    ID, KEY,
    C("serial", "str", 8, nullable=False),
    C("kind", "str", 16, nullable=False),          # mailbox | complaint | work_order
    C("category", "str", 60),
    C("summary", "text", 2000),
    C("status", "str", 20, nullable=False),        # accepted | in_progress | forwarded | closed
    C("result", "text", 2000),
    C("accepted_at", "datetime", nullable=False),
    C("agent_id", "str", 40),
    C("handling_unit", "str", 100),
    C("responsible", "str", 60),
    C("reminder_at", "datetime"),                  # follow-up time; past it and not closed = overdue
    C("due_at", "datetime"),                       # work orders
    C("closed_at", "datetime"),
    C("caller_contact", "str", 100),
    C("caller_number", "str", 40),
    C("language", "str", 10),
    C("menu_path", "str", 200),
    C("recording_path", "str", 255),
    CALL_UUID, CREATED,
), unique=("idem_key", "serial"), indexes=(("status", "reminder_at"), ("caller_number",)))

RECORDINGS = Table("fsapp_recordings", "rec", (
    ID, KEY, CALL_UUID,
    C("path", "str", 255, nullable=False),
    C("purpose", "str", 40),                       # mailbox | complaint | survey ...
    C("duration_ms", "int"),
    C("ticket_serial", "str", 8),
    C("caller_number", "str", 40),
    C("language", "str", 10),
    CREATED,
), unique=("idem_key",), indexes=(("ticket_serial",),))

SURVEY_ANSWERS = Table("fsapp_survey_answers", "sa", (
    ID, KEY, CALL_UUID,
    C("survey", "str", 60, nullable=False),
    C("question", "str", 60, nullable=False),
    C("answer", "str", 40),
    C("agent_id", "str", 40),
    C("ticket_serial", "str", 8),
    C("caller_number", "str", 40),
    CREATED,
), unique=("idem_key",), indexes=(("survey", "question"),))

CALL_RECORDS_V1 = Table("fsapp_call_records", "cr", (
    ID, KEY, CALL_UUID,
    C("caller_number", "str", 40),
    C("destination", "str", 40),
    C("flow", "str", 80),
    C("flow_version", "str", 40),
    C("started_at", "datetime", nullable=False),
    C("answered_at", "datetime"),
    C("ended_at", "datetime"),
    C("duration_ms", "int"),
    C("hangup_cause", "str", 40),
    C("outcome", "str", 40),
    C("queue_name", "str", 60),
    C("agent_id", "str", 40),
    C("language", "str", 10),
    CREATED,
), unique=("idem_key",), indexes=(("started_at",), ("caller_number",)))

QUEUE_EVENTS_V1 = Table("fsapp_queue_events", "qe", (
    ID, KEY, CALL_UUID,
    C("queue_name", "str", 60, nullable=False),
    C("event", "str", 20, nullable=False),         # enter | answered | abandoned | overflow | timeout | callback
    C("agent_id", "str", 40),
    C("wait_ms", "int"),
    C("queue_position", "int"),
    C("event_at", "datetime", nullable=False),
    CREATED,
), unique=("idem_key",), indexes=(("queue_name", "event_at"),))

NODE_VISITS_V1 = Table("fsapp_node_visits", "nv", (
    ID, KEY, CALL_UUID,
    C("flow", "str", 80, nullable=False),
    C("node", "str", 80, nullable=False),
    C("entered_at", "datetime", nullable=False),
    C("left_at", "datetime"),
    C("outcome", "str", 40),
    C("digits", "str", 40),
    CREATED,
), unique=("idem_key",), indexes=(("flow", "node"),))

# --- migration 2: what the reports need (fsapp report, docs/reports.md) ----------------------
# Added columns are nullable; the *_V1 tables above stay what migration 1 created.
# first-call resolution looks callers up by number and time
CALL_RECORDS_V2 = CALL_RECORDS_V1.extended((), (("caller_number", "started_at"), ("flow", "started_at")))

QUEUE_EVENTS_ADDED = (
    C("caller_number", "str", 40),
    C("target", "str", 100),                       # overflow: queue:NAME, flow:NAME, number:N; transfer
    C("talk_ms", "int"),                           # completed: bridge to the first hangup
    C("hold_ms", "int"),                           # completed: time on hold during the talk (0 when unknown)
    C("wrap_up_ms", "int"),                        # completed: the agent's wrap-up time after it
)
# events: enter | answered | completed | abandoned | overflow | timeout | callback | transfer
# (transfer: the agent transferred the caller; target blind:EXTENSION or attended from the
# phone, attended:NUMBER by att_xfer on the agent's leg)
QUEUE_EVENTS = QUEUE_EVENTS_V1.extended(QUEUE_EVENTS_ADDED, (("agent_id", "event_at"), ("call_uuid",),
                                                             ("caller_number", "event_at"), ("event_at",)))

NODE_VISITS_ADDED = (
    C("flow_version", "str", 40),
    C("no_inputs", "int"),                         # questions at this visit that got no digits
    C("invalid_inputs", "int"),                    # ... that got digits the node did not accept
    C("revisit", "int"),                           # 1: the call had been at this node before (a loop)
    C("flow_entry", "int"),                        # 1: the call's first node in this flow
)
NODE_VISITS = NODE_VISITS_V1.extended(NODE_VISITS_ADDED, (("entered_at",),))

OFFERS = Table("fsapp_offers", "of", (
    ID, KEY, CALL_UUID,
    C("queue_name", "str", 60, nullable=False),
    C("agent_id", "str", 40, nullable=False),
    C("ring_at", "datetime", nullable=False),      # the agent's phone starts ringing
    C("ended_at", "datetime", nullable=False),     # answered, refused, or given up
    C("result", "str", 20, nullable=False),        # answered | no_answer | busy | reject | cancelled
    CREATED,
), unique=("idem_key",), indexes=(("queue_name", "ring_at"), ("agent_id", "ring_at")))

AGENT_STATES = Table("fsapp_agent_states", "ast", (
    ID, KEY,
    C("agent_id", "str", 40, nullable=False),
    C("status", "str", 30, nullable=False),        # Logged Out | Available | Available (On Demand) | On Break
    C("reason", "str", 60),                        # a break's reason, when given
    C("changed_at", "datetime", nullable=False),   # the status holds from here to the agent's next row
    CREATED,
), unique=("idem_key",), indexes=(("agent_id", "changed_at"), ("changed_at",)))

# --- migration 6: the call record the flow runtime writes at the end of every call -----------
# (fsapp.flow.callrecord; a flow no longer writes it): how the flow part ended and the nodes
# the call passed, so a record alone says where a caller left.
CALL_RECORDS = CALL_RECORDS_V2.extended((
    C("end_reason", "str", 20),                    # hangup | transfer | queue | caller_hangup | error | no_flow
    C("node_path", "text", 4000),                  # flow.node>flow.node>... (the start cut when longer)
))

CAMPAIGN_ATTEMPTS = Table("fsapp_campaign_attempts", "ca", (
    ID, KEY, CALL_UUID,
    C("campaign", "str", 60, nullable=False),
    C("contact_id", "str", 100, nullable=False),
    C("attempt", "int", nullable=False),           # 1 for the first call of a contact
    C("dialled_number", "str", 40),                # "number" is reserved in Oracle
    C("started_at", "datetime", nullable=False),
    C("answered_at", "datetime"),
    C("ended_at", "datetime"),
    C("answered", "int"),                          # 1 answered, 0 not
    C("hangup_cause", "str", 40),                  # FreeSWITCH's cause, e.g. USER_BUSY
    C("outcome", "str", 20, nullable=False),       # completed | not_completed | busy | no_answer | failed |
                                                   # invalid_number | excluded
    C("flow", "str", 80),
    C("flow_result", "str", 40),                   # the flow's end: hangup, caller_hangup, error ...
    C("answers", "text", 2000),                    # JSON of the flow variables the campaign collects
    C("next_state", "str", 20),                    # the contact's state after this attempt
    C("retry_at", "datetime"),
    C("worker", "str", 80),
    CREATED,
), unique=("idem_key",), indexes=(("campaign", "started_at"), ("campaign", "contact_id")))

# --- migration 4: interval summaries (fsapp report rollup, docs/reports.md) -------------------
# Additive sums per 15-minute interval, written by `fsapp report rollup` from the rows above
# (not through the outbox: a rollup deletes and rewrites whole intervals in one transaction,
# so running it again is harmless). A report reads them for the intervals the rollup has
# closed and the raw rows only for the rest. Several rows may share an interval and key
# (e.g. one of call legs and one of offers): readers always SUM.
QUEUE_SUMS = ("legs", "offered", "answered", "abandoned", "short_abandoned", "answered_in_sl", "answer_wait_ms",
              "transferred", "timed_out", "callbacks_requested", "callbacks_made", "callbacks_answered", "handled",
              "talk_ms", "hold_ms", "wrap_up_ms", "fcr_calls", "fcr_resolved",
              "offers", "offers_answered", "offers_decided")
AGENT_SUMS = ("offers", "offers_answered", "offers_decided", "handled", "talk_ms", "hold_ms", "wrap_up_ms")
NODE_SUMS = ("visits", "node_calls", "flow_calls", "no_inputs", "invalid_inputs", "hangups")


def _queue_sums(name: str, short: str, start: str) -> Table:
    return Table(name, short, (
        ID,
        C("rules_key", "str", 80, nullable=False),     # the counting rules the sums were taken under
        C(start, "datetime", nullable=False),
        C("queue_name", "str", 60, nullable=False),
        *(C(column, "bigint") for column in QUEUE_SUMS),
    ), indexes=(("rules_key", start),))


def _agent_sums(name: str, short: str, start: str) -> Table:
    return Table(name, short, (
        ID,
        C(start, "datetime", nullable=False),
        C("agent_id", "str", 40, nullable=False),
        *(C(column, "bigint") for column in AGENT_SUMS),
        C("staffed_s", "decimal", 14, 3),
    ), indexes=((start,),))


def _node_sums(name: str, short: str, start: str) -> Table:
    return Table(name, short, (
        ID,
        C(start, "datetime", nullable=False),
        C("flow", "str", 80, nullable=False),
        C("node", "str", 80, nullable=False),
        *(C(column, "bigint") for column in NODE_SUMS),
    ), indexes=((start,),))


QUEUE_INTERVALS = _queue_sums("fsapp_queue_intervals", "qi", "interval_start")
AGENT_INTERVALS = _agent_sums("fsapp_agent_intervals", "ai", "interval_start")
NODE_INTERVALS = _node_sums("fsapp_node_intervals", "ni", "interval_start")

# how far each summary is complete: [covered_from, covered_to) (name: "queue <rules>", "agent", "node")
REPORT_ROLLUPS = Table("fsapp_report_rollups", "rr", (
    C("name", "str", 100, primary_key=True),
    C("covered_from", "datetime", nullable=False),
    C("covered_to", "datetime", nullable=False),
    C("updated_at", "datetime", nullable=False),
))

# --- migration 5: daily summaries (fsapp report rollup, docs/reports.md) ----------------------
# The interval sums of each whole day added up (day_start: that day's 00:00), written by the
# same rollup in the same transaction as the day's last intervals: a month per agent reads
# 30 rows per agent instead of 30 x 96. The same columns as the interval tables.
QUEUE_DAYS = _queue_sums("fsapp_queue_days", "qd", "day_start")
AGENT_DAYS = _agent_sums("fsapp_agent_days", "ad", "day_start")
NODE_DAYS = _node_sums("fsapp_node_days", "nd", "day_start")

SERIAL_BLOCKS = Table("fsapp_serial_blocks", "sb", (
    C("name", "str", 40, primary_key=True),
    C("next_value", "bigint", nullable=False),
    C("updated_at", "datetime", nullable=False),
))

SCHEMA_VERSION = Table("fsapp_schema_version", "sv", (
    C("version", "int", primary_key=True),
    C("description", "str", 200, nullable=False),
    C("applied_at", "datetime", nullable=False),
))

WRITE_KINDS: dict[str, Table] = {
    "ticket": TICKETS,
    "recording": RECORDINGS,
    "survey_answer": SURVEY_ANSWERS,
    "call_record": CALL_RECORDS,
    "queue_event": QUEUE_EVENTS,
    "node_visit": NODE_VISITS,
    "campaign_attempt": CAMPAIGN_ATTEMPTS,
    "offer": OFFERS,
    "agent_state": AGENT_STATES,
}
