"""An emulated FreeSWITCH with scripted callees, the reference flows, a SQLite store and
a dialer, on the emulator's VirtualClock: hours of a campaign run in seconds."""
from __future__ import annotations

import textwrap
from pathlib import Path

from fsapp import config
from fsapp.calendar import loads_calendars
from fsapp.campaign.dialer import Dialer
from fsapp.campaign.loader import parse_text
from fsapp.campaign.sources import read_csv_contacts
from fsapp.esl import InboundClient
from fsapp.app.services import flow_handler
from fsapp.sim import Switch
from fsapp.sim.clock import VirtualClock
from fsapp.store import Store
from tests.fsapp_toml import sqlite_store, write_fsapp_toml

ROOT = Path(__file__).resolve().parents[2]

CAMPAIGN = textwrap.dedent("""\
    campaign: test
    flow: outage_notice
    contacts: {csv: contacts.csv}
    exclude:
      - dnc_file: dnc.txt
    calendar: always
    pacing: {calls_per_minute: 30, max_concurrent: 10}
    dial: {template: "sofia/gateway/{gateway}/{number}", gateway: carrier1, caller_id: "96116", timeout: 30s,
           max_duration: 3m}
    retry: {max_attempts: 3, busy: 10m, no_answer: 30m, failed: 1h, not_completed: 20m}
    collect: [heard]
    completed_when: heard
    """)

ALWAYS = """
calendars:
  always:
    timezone: Asia/Shanghai
    weekly: {daily: "00:00-24:00"}
"""


class Line:
    def __init__(self, tmp: Path, states, campaign_text: str = CAMPAIGN, calendars: str = ALWAYS,
                 contacts: str = "id,number\n", dnc: str = "", clock=None):
        self.tmp = tmp
        (tmp / "contacts.csv").write_text(contacts, encoding="utf-8")
        (tmp / "dnc.txt").write_text(dnc, encoding="utf-8")
        self.cfg = config.load(write_fsapp_toml(tmp, {
            "esl": {"password": "ClueCon"},
            "store": sqlite_store(tmp, main=tmp / "fsapp.db"),
            "sounds": {"dir": ROOT / "sounds"},
            "flows": {"recordings": tmp / "recordings", "node_visits": False}}))
        self.store = Store.from_config(self.cfg)
        self.store.migrate()
        self.clock = clock or VirtualClock()
        self.switch = Switch(esl=("127.0.0.1", 0), clock=self.clock).start()
        campaign, problems = parse_text(campaign_text, "test.yaml")
        assert not problems, problems
        self.campaign = campaign
        self.calendar = loads_calendars(calendars)[campaign.calendar]
        self.states = states
        self.flows = flow_handler(str(ROOT / "ivr_flows"), self.cfg)
        self.esl = InboundClient("127.0.0.1", self.switch.esl_port, "ClueCon").start()
        self.dialer = None

    def callee(self, number: str, **kw):
        return self.switch.add_agent(number, **kw)

    def load(self) -> int:
        added = self.states.add_contacts(self.campaign.name, read_csv_contacts(self.tmp / "contacts.csv"),
                                         self.clock.now())
        self.states.set_control(self.campaign.name, "running", self.clock.now())
        return added

    def make_dialer(self, worker: str = "w1") -> Dialer:
        return Dialer(self.campaign, self.states, self.esl, self.flows, self.calendar, store=self.store,
                      clock=self.clock, base_dir=self.tmp, control_poll_s=600.0, worker=worker).start()

    def run(self, hours: float, exit_when_done: bool = True) -> str:
        self.dialer = self.dialer or self.make_dialer()
        return self.dialer.run(until=self.clock.now() + hours * 3600, exit_when_done=exit_when_done)

    def attempts(self, contact_id: str | None = None) -> list[dict]:
        rows = self.states.attempts(self.campaign.name)
        return [r for r in rows if contact_id is None or r["contact_id"] == contact_id]

    def close(self) -> None:
        if self.dialer is not None:
            self.dialer.close()
        self.esl.stop()
        self.switch.stop()
        self.store.close()
