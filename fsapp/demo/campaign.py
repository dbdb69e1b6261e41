"""The demo's short outbound campaign: the reference outage notice (campaigns/water_outage.yaml)
on the demo's switch, as a drill on the always-open drill_24h calendar, first attempts only."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from fsapp.calendar import load_calendars
from fsapp.campaign import load_campaign
from fsapp.campaign.dialer import Dialer
from fsapp.campaign.sources import read_csv_contacts
from fsapp.campaign.state import SQLiteStates
from fsapp.esl import InboundClient

# scripted callees of campaigns/data/district7.csv: (number, ring s, talk s, answer)
CALLEES = [("13900000001", 2.0, 300.0, True), ("13900000002", 2.0, 0.0, "busy"),
           ("13900000003", 60.0, 0.0, False), ("13900000004", 2.0, 3.0, True)]
WHAT = {"completed": "heard the notice to the end", "not_completed": "hung up mid-message (retry in 20 min)",
        "busy": "busy (retry in 10 min)", "no_answer": "no answer in 30 s (retry in 30 min)",
        "failed": "not reachable (retry in 1 h)", "excluded": "on the do-not-call list, not dialled",
        "invalid_number": "not a phone number, refused"}


def run_outage_drill(line, root: Path, password: str) -> list[dict]:
    """Dial the campaign's first attempts; returns them (contact_id, number, outcome, ...)."""
    campaign = dataclasses.replace(load_campaign(root / "campaigns" / "water_outage.yaml"), calendar="drill_24h")
    calendar = load_calendars(root / "calendars.yaml")["drill_24h"]
    for number, ring, talk, answer in CALLEES:
        line.switch.add_agent(number, ring_s=ring, talk_s=talk, answer=answer)
    clock = line.switch.clock
    states = SQLiteStates(line.workdir / "campaigns.db")
    states.add_contacts(campaign.name, read_csv_contacts(root / campaign.contacts.csv), clock.now())
    states.set_control(campaign.name, "running", clock.now())
    esl = InboundClient("127.0.0.1", line.switch.esl_port, password).start()
    dialer = Dialer(campaign, states, esl, line.handler, calendar, store=line.store, clock=clock,
                    base_dir=root, worker="demo", control_poll_s=10.0).start()
    try:
        dialer.run(until=clock.now() + 90.0)       # 90 emulated seconds: every first attempt
    finally:
        dialer.close()
        esl.stop()
    attempts = states.attempts(campaign.name)
    states.close()
    return attempts
