"""`fsapp demo`: the embedded default, end to end, in under two minutes.

An emulated FreeSWITCH (fsapp.sim) sends scripted callers over real TCP to fsapp's
outbound socket server running the reference flows of ivr_flows/ (fsapp.flow), with a
real SQLite database through the SQLite ODBC driver (fsapp.store), the billing example,
prompts rendered by espeak-ng (fsapp.sounds) and, for the "0" key, the in-memory ACD
(fsapp.routing) offering calls to emulated agents. Nothing is mocked: it is the same
code path `fsapp serve --flows` runs beside a real FreeSWITCH.

    line = DemoLine.open("var/demo")          # database, switch, server, flows, router
    results = run_scenarios(line, scenarios.build(*seeded_serials))
    print_summary(line, results, wall_s)
"""
from . import scenarios
from .line import DemoLine
from .run import CallResult, run_scenarios
from .summary import print_summary

__all__ = ["DemoLine", "scenarios", "CallResult", "run_scenarios", "print_summary"]
