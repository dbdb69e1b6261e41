"""Where contacts' states live, shared by every worker of a campaign.

    states.add_contacts(campaign, contacts, now)       # new ones pending; known ones kept
    claim = states.claim(campaign, now, worker, lease_s)   # atomically: due contact ->
        # in_progress with attempt + 1, durable before anything is dialled
    states.finish(claim, state, retry_at, record)      # the attempt's result (only by its claim)
    states.stale(campaign, now)                        # claims whose worker died (lease over)

Two workers never hold the same contact: a claim is one atomic step (a SQLite write
transaction, a Redis Lua script), and a contact in progress is not due. A crash never
repeats an attempt: the attempt number is stored with the claim before the call is
placed, so the contact's next call, after its lease lapsed, is the next attempt.

Implementations: SQLiteStates (the embedded default, in var/fsapp.db) and RedisStates
(fsapp.campaign.redis_state). `open_states(cfg)` picks one from [campaign] state.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

import gevent


@dataclass(frozen=True)
class Contact:
    contact_id: str
    number: str                        # as found in the source (cleaned when dialled)
    name: str = ""
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Claim:
    campaign: str
    contact_id: str
    number: str
    name: str
    data: dict
    attempt: int                       # 1 for the first call
    worker: str
    lease_until: float


CONTROL_STATES = ("loaded", "running", "paused", "stopped")


class ContactStates:
    """The interface both stores implement (documented here, once)."""

    def add_contacts(self, campaign: str, contacts: list[Contact], now: float) -> int: ...
    def claim(self, campaign: str, now: float, worker: str, lease_s: float) -> Claim | None: ...
    def finish(self, claim: Claim, state: str, retry_at: float | None, record: dict) -> bool: ...
    def stale(self, campaign: str, now: float) -> list[Claim]: ...
    def next_due(self, campaign: str) -> float | None: ...
    def counts(self, campaign: str) -> dict[str, int]: ...
    def attempts(self, campaign: str) -> list[dict]: ...
    def contact(self, campaign: str, contact_id: str) -> dict | None: ...
    def set_control(self, campaign: str, status: str, now: float) -> None: ...
    def control(self, campaign: str) -> dict: ...
    def close(self) -> None: ...

    def gateway_slots(self):
        """Where per-gateway channel limits are counted (fsapp.campaign.gateway_slots):
        this process only, unless the store is shared across hosts (Redis)."""
        from fsapp.campaign.gateway_slots import MemoryGatewaySlots
        return MemoryGatewaySlots()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS fsapp_campaign_contacts (
  campaign TEXT NOT NULL, contact_id TEXT NOT NULL, number TEXT NOT NULL, name TEXT NOT NULL,
  data TEXT NOT NULL, state TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0,
  due_at REAL NOT NULL, seq INTEGER NOT NULL, worker TEXT, lease_until REAL,
  last_outcome TEXT, PRIMARY KEY (campaign, contact_id));
CREATE INDEX IF NOT EXISTS fsapp_campaign_due ON fsapp_campaign_contacts (campaign, state, due_at, seq);
CREATE TABLE IF NOT EXISTS fsapp_campaign_log (
  campaign TEXT NOT NULL, contact_id TEXT NOT NULL, attempt INTEGER NOT NULL, record TEXT NOT NULL,
  PRIMARY KEY (campaign, contact_id, attempt));
CREATE TABLE IF NOT EXISTS fsapp_campaign_control (
  campaign TEXT PRIMARY KEY, status TEXT NOT NULL, started_at REAL, updated_at REAL NOT NULL);
"""


class SQLiteStates(ContactStates):
    """Contact states in a SQLite file. Every statement runs in gevent's thread pool
    (sqlite3 blocks); a claim is one IMMEDIATE transaction, so processes sharing the
    file serialise on it."""

    def __init__(self, path: str | Path, timeout: float = 30.0):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._timeout = timeout
        self._run(lambda db: db.executescript(_SCHEMA))

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")   # a claim is on disk before the call is placed
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    def _run(self, fn):
        if threading.current_thread() is threading.main_thread():
            # each pool thread opens its own connection (threading.local)
            return gevent.get_hub().threadpool.apply(lambda: fn(self._db()))
        return fn(self._db())

    def _tx(self, fn):
        def run(db):
            db.execute("BEGIN IMMEDIATE")
            try:
                out = fn(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return out
        return self._run(run)

    def add_contacts(self, campaign, contacts, now):
        def add(db):
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM fsapp_campaign_contacts WHERE campaign = ?",
                             (campaign,)).fetchone()[0]
            added = 0
            for contact in contacts:
                seq += 1
                cur = db.execute(
                    "INSERT OR IGNORE INTO fsapp_campaign_contacts (campaign, contact_id, number, name, data, "
                    "state, attempt, due_at, seq) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
                    (campaign, contact.contact_id, contact.number, contact.name,
                     json.dumps(contact.data, ensure_ascii=False), now, seq))
                added += cur.rowcount
            return added
        return self._tx(add)

    def claim(self, campaign, now, worker, lease_s):
        def take(db):
            row = db.execute(
                "SELECT contact_id, number, name, data, attempt FROM fsapp_campaign_contacts "
                "WHERE campaign = ? AND state IN ('pending', 'retry') AND due_at <= ? "
                "ORDER BY due_at, seq LIMIT 1", (campaign, now)).fetchone()
            if row is None:
                return None
            attempt = row["attempt"] + 1
            db.execute("UPDATE fsapp_campaign_contacts SET state = 'in_progress', attempt = ?, worker = ?, "
                       "lease_until = ? WHERE campaign = ? AND contact_id = ?",
                       (attempt, worker, now + lease_s, campaign, row["contact_id"]))
            return Claim(campaign, row["contact_id"], row["number"], row["name"], json.loads(row["data"]),
                         attempt, worker, now + lease_s)
        return self._tx(take)

    def finish(self, claim, state, retry_at, record):
        def done(db):
            cur = db.execute(
                "UPDATE fsapp_campaign_contacts SET state = ?, due_at = COALESCE(?, due_at), worker = NULL, "
                "lease_until = NULL, last_outcome = ? WHERE campaign = ? AND contact_id = ? AND attempt = ? "
                "AND state = 'in_progress'",
                (state, retry_at, record.get("outcome"), claim.campaign, claim.contact_id, claim.attempt))
            if cur.rowcount != 1:
                return False
            db.execute("INSERT OR REPLACE INTO fsapp_campaign_log VALUES (?, ?, ?, ?)",
                       (claim.campaign, claim.contact_id, claim.attempt,
                        json.dumps(record, ensure_ascii=False, default=str)))
            return True
        return self._tx(done)

    def stale(self, campaign, now):
        rows = self._run(lambda db: db.execute(
            "SELECT contact_id, number, name, data, attempt, worker, lease_until FROM fsapp_campaign_contacts "
            "WHERE campaign = ? AND state = 'in_progress' AND lease_until <= ?", (campaign, now)).fetchall())
        return [Claim(campaign, r["contact_id"], r["number"], r["name"], json.loads(r["data"]), r["attempt"],
                      r["worker"], r["lease_until"]) for r in rows]

    def next_due(self, campaign):
        row = self._run(lambda db: db.execute(
            "SELECT MIN(due_at) FROM fsapp_campaign_contacts WHERE campaign = ? AND state IN ('pending', 'retry')",
            (campaign,)).fetchone())
        return row[0]

    def counts(self, campaign):
        rows = self._run(lambda db: db.execute(
            "SELECT state, COUNT(*) FROM fsapp_campaign_contacts WHERE campaign = ? GROUP BY state",
            (campaign,)).fetchall())
        return {state: n for state, n in rows}

    def attempts(self, campaign):
        rows = self._run(lambda db: db.execute(
            "SELECT record FROM fsapp_campaign_log WHERE campaign = ?", (campaign,)).fetchall())
        return sorted((json.loads(r[0]) for r in rows), key=lambda r: (r.get("started_at") or 0))

    def contact(self, campaign, contact_id):
        row = self._run(lambda db: db.execute(
            "SELECT * FROM fsapp_campaign_contacts WHERE campaign = ? AND contact_id = ?",
            (campaign, contact_id)).fetchone())
        return dict(row) if row is not None else None

    def set_control(self, campaign, status, now):
        if status not in CONTROL_STATES:
            raise ValueError(f"campaign status {status!r}: one of {', '.join(CONTROL_STATES)}")
        self._tx(lambda db: db.execute(
            "INSERT INTO fsapp_campaign_control (campaign, status, started_at, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (campaign) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, "
            "started_at = COALESCE(fsapp_campaign_control.started_at, excluded.started_at)",
            (campaign, status, now if status == "running" else None, now)))

    def control(self, campaign):
        row = self._run(lambda db: db.execute(
            "SELECT status, started_at, updated_at FROM fsapp_campaign_control WHERE campaign = ?",
            (campaign,)).fetchone())
        return dict(row) if row is not None else {"status": "unknown", "started_at": None, "updated_at": None}

    def close(self):
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def open_states(cfg) -> ContactStates:
    """The store [campaign] state names: sqlite (default, [campaign] sqlite path) or redis."""
    section = cfg.section("campaign")
    if section["state"] == "redis":
        from fsapp.campaign.redis_state import RedisStates
        return RedisStates.from_url(section["redis_url"], section["redis_prefix"])
    return SQLiteStates(section["sqlite"])
