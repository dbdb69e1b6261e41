"""Worker fail-over and fallback in the dialplan, as data the template renders.

FreeSWITCH's `socket` application (mod_event_socket.c socket_function) logs "Socket
Error!" and *returns* when it cannot connect; it does not hang up. The XML dialplan
then runs the extension's next action. (`continue_on_fail` and `failure_causes` are
read by mod_dptools' bridge only; they have no effect on `socket`.) So an extension
that lists `socket W1`, `socket W2`, ... tries each worker in turn, and the actions after
the last one run only when no worker took the call: that is where the fallback goes.
A draining worker has closed its listening socket, so `socket` fails to connect and the
call moves on the same way. A worker over [serve] max_calls accepts and hands the call
back (fsapp.esl.outbound.OutboundServer._hand_back): a bare close would leave the caller
parked inside `socket` on FreeSWITCH 1.10.12 (capture outbound_refused_close).

Calls are spread by rotating the order: with N workers the flow gets N extensions, each
also conditioned on the last hex digit of ${call_uuid} (uniformly random in FreeSWITCH's
v4 UUIDs), and extension k tries workers k, k+1, ..., k-1.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

HEX = "0123456789abcdef"
_NUMBER = re.compile(r"^\+?[0-9A-Za-z*#_-]{1,64}$")


@dataclass(frozen=True)
class Rotation:
    suffix: str            # "" for one worker, "_w1", "_w2", ... otherwise
    expression: str        # regex on ${call_uuid}; "" for one worker (no condition)
    workers: tuple[str, ...]


def rotations(workers: list[str] | tuple[str, ...]) -> list[Rotation]:
    """The orders in which calls try the workers; at most 16 (one per hex digit)."""
    workers = tuple(workers)
    if len(workers) <= 1:
        return [Rotation("", "", workers)]
    count = min(len(workers), len(HEX))
    out = []
    for k in range(count):
        digits = "".join(d for i, d in enumerate(HEX) if i % count == k)
        out.append(Rotation(f"_w{k + 1}", f"[{digits}]$",
                            workers[k:] + workers[:k]))
    return out


def apology(prompt_path: str, transfer_to: str) -> list[tuple[str, str]]:
    """The fallback when the flow cannot run without fsapp: answer, play the apology,
    then transfer to a person (or hang up when no number is configured)."""
    actions = [("answer", ""), ("playback", prompt_path)]
    if transfer_to:
        if not _NUMBER.match(transfer_to):
            raise ValueError(f"[deploy] fallback_transfer {transfer_to!r}: expected a number or "
                             f"extension (digits, letters, + * # _ -)")
        actions.append(("transfer", f"{transfer_to} XML default"))
    else:
        actions.append(("hangup", "NORMAL_TEMPORARY_FAILURE"))
    return actions
