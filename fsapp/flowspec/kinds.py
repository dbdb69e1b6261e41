"""The one declarative specification of the flow language.

Every node kind, its fields, their types, defaults, which fields name other nodes
(targets), which are prompts and which set variables is declared here once. The same
table drives the compiler/validator (fsapp.flow.compiler), the interpreter (which reads
defaults and edge labels from it) and docs/flows.md (tests/flow/test_docs.py checks the
reference tables in the doc against this module, so they cannot drift).

Field types (the `type` of a Field):

    text       a plain string
    template   a string that may contain jinja2 `{{ ... }}` (sandboxed); non-strings allowed
    expr       a jinja2 expression, e.g. "ticket.status == 'closed'"; non-strings are literals
    int        an integer (min/max bounds checked)
    bool       true / false
    duration   "5s", "500ms", "2m" or a number of seconds
    digits     DTMF keys: 0-9 * # (written quoted or not: 1 and "1" are the same)
    regex      a Python regular expression (checked at compile time)
    choice     one of `choices`
    var        a variable name this node sets
    target     the name of another node in the same flow
    options    mapping of DTMF keys to target nodes (menu)
    modes      mapping of calendar modes (day, night, holiday, ...) to target nodes
    prompts    a prompt sequence: a prompt name, or a list of items (see PROMPT_ITEMS)
    params     mapping of names to templates (values may be any YAML scalar)
    assign     mapping of variable names to expressions, evaluated in order (set)
    cases      list of {when: expr, goto: target} (branch)
    names      a list of plain strings (e.g. skills)
    vars       a list of variable names
    ref        the name of something outside the flow: a SQL query, queue, calendar or flow
    struct     a nested mapping with its own `fields`
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    help: str
    required: bool = False
    default: Any = None
    choices: tuple = ()
    min: float | None = None
    max: float | None = None
    # target fields: does the node's variable assignment (into/returns) hold on this edge?
    assigns: bool = True
    ref: str | None = None            # ref fields: "query", "queue", "calendar" or "flow"
    fields: tuple["Field", ...] = ()  # struct fields


@dataclass(frozen=True)
class Kind:
    name: str
    help: str
    fields: tuple[Field, ...]
    primary: str | None = None   # field set by the shorthand `kind: value`
    waits: bool = False          # waits for the caller (input or a party): breaks input-free loops
    ends: bool = False           # ends the call (or the subflow) when no further target is set
    after_hangup: bool = False   # allowed as an on_hangup step (no media, no caller)

    def field(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def F(name: str, type: str, help: str, **kw) -> Field:
    return Field(name, type, help, **kw)


NEXT = F("next", "target", "Node to continue with.", required=True)
TRIES = F("tries", "int", "Attempts before giving up.", default=3, min=1, max=20)
TIMEOUT = F("timeout", "duration", "Seconds to wait for the first key after the prompt.",
            default=5.0, min=0.1, max=300)

PROMPT_ITEMS = {
    "name": "a prompt name from the catalog, e.g. hotline/main_menu (may be a template)",
    "say": "{say: currency, value: \"{{ amount }}\", currency: USD}: digits, number, currency "
           "(money is the same), date, time or datetime, rendered from prompt files in the call's "
           "language; currency CNY (default) or USD",
    "tone": "{tone: \"%(500,0,800)\"}: a FreeSWITCH tone_stream",
    "silence": "{silence: 500ms}: a pause",
    "file": "{file: /path/to.wav}: an absolute audio file path (may be a template)",
    "text": "{text: \"...\"}: text spoken by TTS (needs [flows] tts)",
}
SAY_KINDS = ("digits", "number", "currency", "money", "date", "time", "datetime")
CURRENCIES = ("CNY", "USD")
HANGUP_CAUSES = ("NORMAL_CLEARING", "USER_BUSY", "CALL_REJECTED", "NO_ANSWER",
                 "NORMAL_TEMPORARY_FAILURE", "SERVICE_UNAVAILABLE")

KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("play", "Play a prompt sequence (files, tones, say items, TTS text).", (
        F("prompt", "prompts", "What to play.", required=True),
        NEXT,
    ), primary="prompt"),
    Kind("say", "Say a value (digits, number, currency, date, time, datetime) in the call's "
         "language, built from prompt files (fsapp's own say engine: FreeSWITCH's needs a "
         "language entry and sound files per language).", (
        F("type", "choice", "How to read the value; money is currency under its old name.",
          required=True, choices=SAY_KINDS),
        F("value", "template", "The value, e.g. \"{{ ticket.amount }}\".", required=True),
        F("currency", "choice", "For currency: CNY reads yuan, jiao and fen (元角分; in English "
          "yuan and fen), USD dollars and cents.", default="CNY", choices=CURRENCIES),
        NEXT,
    )),
    Kind("menu", "Play a greeting and branch on one key (or a few keys ended by #).", (
        F("prompt", "prompts", "Greeting played on the first pass (greet-long).", required=True),
        F("repeat_prompt", "prompts", "Played on later passes (greet-short); default: prompt."),
        F("options", "options", "Keys and the node each one leads to.", required=True),
        TIMEOUT,
        F("digit_timeout", "duration", "Seconds after a key before a shorter option counts "
          "(inter-digit-timeout), when options have different lengths.",
          default=2.0, min=0.1, max=60),
        F("tries", "int", "Default of max_failures and max_timeouts.", default=3, min=1, max=20),
        F("max_failures", "int", "Wrong entries (not an option, or a lone #) before on_fail "
          "(max-failures); default: tries.", min=1, max=20),
        F("max_timeouts", "int", "Passes without any key before on_fail (max-timeouts); "
          "default: max_failures.", min=1, max=20),
        F("invalid", "prompts", "Played after a key that is not an option."),
        F("no_input", "prompts", "Played when the caller pressed nothing; default: invalid."),
        F("on_fail", "target", "Node after max_failures wrong entries or max_timeouts silent "
          "passes.", required=True),
    ), waits=True),
    Kind("collect", "Collect digits (an account or ticket number) into a variable.", (
        F("prompt", "prompts", "What to ask.", required=True),
        F("min", "int", "Fewest digits accepted.", default=1, min=1, max=128),
        F("max", "int", "Most digits accepted.", required=True, min=1, max=128),
        F("terminators", "digits", "Keys that end the input early.", default="#"),
        TIMEOUT,
        F("digit_timeout", "duration", "Seconds between digits.", default=3.0, min=0.1, max=60),
        F("validate", "regex", "Regular expression the whole input must match."),
        F("check", "choice", "Named validator of the input.", choices=("luhn", "mod11", "mobile_cn")),
        TRIES,
        F("invalid", "prompts", "Played after input that fails min/max/validate/check."),
        F("no_input", "prompts", "Played when nothing was entered; default: invalid."),
        F("readback", "bool", "Read the digits back to the caller.", default=False),
        F("confirm", "struct", "Ask the caller to confirm; any other key re-asks (uses a try).",
          fields=(
              F("prompt", "prompts", "E.g. \"press 1 to confirm, 2 to re-enter\".", required=True),
              F("yes", "digits", "Key that confirms.", default="1"),
              F("flush", "bool", "Discard keys pressed before the question is asked (type-ahead), "
                "so a key meant for something else never confirms.", default=True),
          )),
        F("into", "var", "Variable that receives the digits.", required=True),
        NEXT,
        F("on_fail", "target", "Node after the last failed try.", required=True, assigns=False),
    ), waits=True),
    Kind("record", "Record the caller (a message, a complaint), with optional review.", (
        F("prompt", "prompts", "Played before recording."),
        F("beep", "bool", "Beep before recording.", default=True),
        F("max", "duration", "Longest recording, seconds.", default=120.0, min=1, max=3600),
        F("silence", "duration", "Seconds of silence that end the recording.", default=3.0,
          min=1, max=60),
        F("terminators", "digits", "Keys that end the recording, as the prompt announces them "
          "(\"press # when done\"); fsapp sets them on the channel, as FreeSWITCH's record "
          "otherwise stops on `*` only.", default="#"),
        F("min_length", "duration", "Shortest message kept, seconds; a shorter one plays "
          "too_short and records again (uses a try).", min=0.1, max=600),
        F("too_short", "prompts", "Played after a message shorter than min_length, e.g. "
          "common/message_too_short (needed with min_length)."),
        F("tries", "int", "Recordings allowed while they are too short.", default=3, min=1, max=20),
        F("on_too_short", "target", "Node after the last too-short try (the short file is removed); "
          "default: on_discard, else next.", assigns=False),
        F("review", "struct", "After recording, let the caller listen, re-record, save or discard.",
          fields=(
              F("prompt", "prompts", "The review menu prompt.", required=True),
              F("listen", "digits", "Key to listen to the recording.", default="1"),
              F("rerecord", "digits", "Key to record again.", default="2"),
              F("save", "digits", "Key to save.", default="3"),
              F("discard", "digits", "Key to discard.", default="4"),
              TRIES,
          )),
        F("into", "var", "Variable that receives {path, duration} (set before recording starts, "
          "so on_hangup can save a recording cut short by a hang-up).", required=True),
        NEXT,
        F("on_discard", "target", "Node after the caller discarded the recording; default: next.",
          assigns=False),
    ), waits=True),
    Kind("sql", "Run a named query of the store; bind the first row (or all rows) to a variable.", (
        F("query", "ref", "Query name, e.g. hotline.ticket_status.", required=True, ref="query"),
        F("params", "params", "Query parameters (templates).", default={}),
        F("rows", "choice", "one: the first row or none; all: a list of rows.", default="one",
          choices=("one", "all")),
        F("into", "var", "Variable that receives the result.", required=True),
        NEXT,
        F("on_error", "target", "Node when the database fails; without it the call fails.",
          assigns=False),
    ), primary="query", after_hangup=True),
    Kind("write", "Store a row through the store's durable outbox (tickets, recordings, survey "
         "answers; the runtime writes the call record itself).", (
        F("kind", "text", "Record kind, e.g. survey_answer.", required=True),
        F("row", "params", "Columns (templates).", required=True),
        F("key", "template", "Idempotency key; default: call uuid, node and visit count."),
        NEXT,
    ), after_hangup=True),
    Kind("set", "Set variables from expressions, in order.", (
        F("vars", "assign", "name: expression pairs, e.g. lang: \"'en-US'\".", required=True),
        NEXT,
    ), primary="vars", after_hangup=True),
    Kind("branch", "Go to the first case whose condition is true, else to `else`.", (
        F("cases", "cases", "List of {when: expression, goto: node}.", required=True),
        F("else", "target", "Node when no case matches.", required=True),
    ), primary="cases"),
    Kind("goto", "Continue at another node.", (
        F("target", "target", "The node.", required=True),
    ), primary="target"),
    Kind("subflow", "Call another flow with arguments; its `return` comes back here.", (
        F("flow", "ref", "Name of the flow to call.", required=True, ref="flow"),
        F("args", "params", "Values for the subflow's inputs (templates).", default={}),
        F("returns", "params", "Variables to set from the subflow's outputs: "
          "{my_var: its_output}.", default={}),
        NEXT,
    ), primary="flow"),
    Kind("return", "End a subflow and go back to the caller's flow (ends the call in a main flow).",
         (), ends=True),
    Kind("queue", "Hand the call to the routing module (ACD) and wait for the outcome.", (
        F("queue", "ref", "Queue name.", required=True, ref="queue"),
        F("priority", "expr", "Priority (higher is served first): an integer, or an expression "
          "giving one.", default=0, min=-1_000_000, max=1_000_000),
        F("skills", "names", "Skills the agent needs.", default=()),
        F("timeout", "duration", "Longest wait in the queue; default: the queue's own.",
          min=1, max=86400),
        F("into", "var", "Variable that receives {kind, target} of the outcome."),
        F("next", "target", "Node after the agent call (e.g. a survey); default: hang up."),
        F("on_overflow", "target", "Node on overflow; default: hang up."),
        F("on_timeout", "target", "Node when the wait timed out; default: hang up."),
        F("on_callback", "target", "Node when the caller chose a callback; default: hang up."),
        F("on_error", "target", "Node when routing fails (Redis or FreeSWITCH's event socket "
          "unreachable); default: on_overflow, so the caller still reaches the fallback."),
    ), primary="queue", waits=True, ends=True),
    Kind("transfer", "Transfer the call: to an extension (dialplan), a number (bridge), or "
         "another flow.", (
        F("extension", "text", "Dialplan extension."),
        F("context", "text", "Dialplan context for extension.", default="default"),
        F("number", "digits", "External number, bridged through gateway."),
        F("gateway", "text", "SIP gateway for number.", default="default"),
        F("flow", "ref", "Another flow to continue in (fresh variables, same language).",
          ref="flow"),
        F("on_fail", "target", "Node when a bridge to a number fails; default: hang up.",
          assigns=False),
    ), waits=True, ends=True),
    Kind("schedule", "Branch on a business calendar: its mode (day, night, holiday) or open/closed.", (
        F("calendar", "ref", "Calendar name.", required=True, ref="calendar"),
        F("modes", "modes", "Mode name to node; checked before open/closed.", default={}),
        F("open", "target", "Node while the calendar is open.", required=True),
        F("closed", "target", "Node while it is closed.", required=True),
    ), primary="calendar"),
    Kind("hangup", "Hang up, optionally after a goodbye prompt.", (
        F("prompt", "prompts", "Played before hanging up."),
        F("cause", "choice", "Hang-up cause.", default="NORMAL_CLEARING", choices=HANGUP_CAUSES),
    ), primary="cause", ends=True),
)}

# Keys allowed beside the kind key in every node.
NODE_COMMON = (F("note", "text", "A comment for people reading the flow; ignored."),)
# Beside the kind of an on_hangup step only: most steps apply to some calls (save a
# recording cut short, close an unfinished survey), so they say when.
ON_HANGUP_WHEN = F("when", "expr", "on_hangup steps only: run the step only when this is true, "
                   "e.g. \"message and not message.saved\".")

# Top-level keys of a flow file.
FLOW_FIELDS: tuple[Field, ...] = (
    F("flow", "text", "Flow name (letters, digits, _ and -), unique in the directory.", required=True),
    F("description", "text", "What the flow is for."),
    F("numbers", "names", "Numbers (DIDs) this flow answers. None: callable only as a subflow or "
      "transfer target.", default=()),
    F("languages", "names", "Languages the flow supports; the first is the default. Every prompt "
      "must exist in each.", required=True),
    F("start", "target", "First node.", required=True),
    F("vars", "params", "Variables and their initial values (plain YAML values).", default={}),
    F("inputs", "vars", "Variables a subflow call must pass in args.", default=()),
    F("outputs", "vars", "Variables a subflow hands back to `returns`.", default=()),
    F("on_hangup", "steps", "Steps (sql, write, set) that always run when the call ends, whatever "
      "the reason.", default=()),
    F("nodes", "nodes", "Named nodes: name -> {kind: fields}.", required=True),
)

# The top-level keys that say which flow a file is and which numbers it answers: what the
# dialplan renderer (fsapp.conf) reads without compiling the file.
FLOW_KEY = "flow"
NUMBERS_KEY = "numbers"
assert {FLOW_KEY, NUMBERS_KEY} <= {f.name for f in FLOW_FIELDS}

# Variables every flow can read without setting them.
BUILTIN_VARS = {
    "call": "the call: call.uuid, call.caller_id and call.caller_name (as the caller-id policy "
            "left them, docs/esl.md; None when unknown), call.destination, call.started (datetime), "
            "call.variables (channel data, raw)",
    "lang": "the caller's language (set it to switch: set: {lang: \"'en-US'\"})",
    "flow": "the flow's name and version: flow.name, flow.version",
    "trail": "names of the nodes entered so far, in order",
    "now": "the current local time (a datetime)",
    "hangup_cause": "why the call ended (on_hangup only; empty before)",
    "error": "the last error message (after an on_error/on_fail edge)",
    "outcome": "the call record's outcome (docs/reports.md); set it: set: {outcome: \"'resolved'\"}; "
               "empty until set, and the record then takes the last node entered",
    "ticket_serial": "a function: ticket_serial() allocates a new ticket serial number from the "
                     "store (8 digits, the last a check digit)",
}


def _prompt_keys() -> frozenset[str]:
    """Every YAML key whose value is a prompt sequence: the fields declared `prompts` (in
    nested structs too, e.g. collect's confirm.prompt) and kinds whose shorthand value is
    a prompt (`play: hotline/welcome`). `fsapp sounds check` reads prompt names under
    these keys without compiling the flow."""
    keys: set[str] = set()
    for kind in KINDS.values():
        stack = list(kind.fields)
        while stack:
            field = stack.pop()
            stack.extend(field.fields)
            if field.type == "prompts":
                keys.add(field.name)
                if field.name == kind.primary:
                    keys.add(kind.name)
    for field in FLOW_FIELDS:
        if field.type == "prompts":
            keys.add(field.name)
    return frozenset(keys)


PROMPT_KEYS = _prompt_keys()


# Edge labels, as the compiled node's edges, the trace's `edge` events and flow tests name
# them: a target field's name ("next", "on_fail", ...), or for a target inside a field:
def option_label(key: str) -> str:
    """menu options: the edge taken on `key`."""
    return f"options.{key}"


def mode_label(mode: str) -> str:
    """schedule modes: the edge taken in calendar mode `mode`."""
    return f"modes.{mode}"


def case_label(index: int) -> str:
    """branch cases: the edge of the case at `index` (0-based)."""
    return f"cases[{index}]"
# kinds that wait for the caller (input, or another party): they break input-free loops
WAITING_KINDS = frozenset(name for name, kind in KINDS.items() if kind.waits)
