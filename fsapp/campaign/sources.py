"""Contacts and exclusions from the customer's data: CSV files, DNC files, named queries.

Values read here are data, never syntax: numbers are cleaned (fsapp.campaign.numbers)
only when dialled, and a number that is not one makes the contact 'invalid' with the
attempt recorded, rather than failing the whole list.
"""
from __future__ import annotations

import csv
import datetime as dt
import os
from pathlib import Path

from fsapp.campaign.model import ContactSource, Exclusion
from fsapp.campaign.numbers import clean_number
from fsapp.campaign.state import Contact


class SourceProblem(ValueError):
    """A contact or exclusion source cannot be read; str() names the file (and line)."""


def read_csv_contacts(path: str | Path) -> list[Contact]:
    """CSV with a header: `number` required; `id` (default: the number), `name`, and any
    other column kept as the contact's data (the flow sees it as campaign_<column>)."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise SourceProblem(f"{path}: cannot read contacts: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        header = [h.strip().lower() for h in reader.fieldnames or []]
        if "number" not in header:
            raise SourceProblem(f"{path}:1: the header needs a 'number' column (found: {', '.join(header) or 'none'})")
        reader.fieldnames = header
        contacts, seen = [], {}
        for row in reader:
            line = reader.line_num
            row = {k: (v or "").strip() for k, v in row.items() if k}
            contact_id = row.pop("id", "") or row["number"]
            if not contact_id:
                raise SourceProblem(f"{path}:{line}: empty number and id")
            if contact_id in seen:
                raise SourceProblem(f"{path}:{line}: contact id {contact_id!r} repeats line {seen[contact_id]}")
            seen[contact_id] = line
            number = row.pop("number")
            contacts.append(Contact(contact_id, number, row.pop("name", ""), row))
    return contacts


def query_contacts(store, source: ContactSource) -> list[Contact]:
    """Rows of a named query: `number` required, `id`/`contact_id` and `name` optional."""
    rows = store.query(source.query, dict(source.params))
    out = []
    for index, row in enumerate(rows, 1):
        if "number" not in row:
            raise SourceProblem(f"query {source.query}: row {index} has no 'number' column "
                                f"(columns: {', '.join(row)}); alias one: SELECT phone AS number")
        contact_id = str(row.pop("contact_id", None) or row.pop("id", None) or row["number"])
        number = str(row.pop("number") or "")
        name = str(row.pop("name", "") or "")
        out.append(Contact(contact_id, number, name, {k: "" if v is None else str(v) for k, v in row.items()}))
    return out


def load_contacts(source: ContactSource, base_dir: Path, store=None) -> list[Contact]:
    if source.csv:
        return read_csv_contacts(base_dir / source.csv)
    if store is None:
        raise SourceProblem(f"contacts come from query {source.query}: a database ([store]) is needed")
    return query_contacts(store, source)


def read_dnc_file(path: Path) -> set[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceProblem(f"{path}: cannot read the do-not-call list: {exc.strerror}") from None
    numbers = set()
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip()
        number = clean_number(entry) if entry else None
        if number:
            numbers.add(number)
    return numbers


class ExclusionList:
    """The union of a campaign's exclusion sources, kept fresh: a DNC file is read again
    when it changes, a query every `refresh`. `numbers(now)` is asked before each dial.
    A query that fails keeps the last set it returned; one that never succeeded raises,
    so nobody is called before the list that may exclude them was read."""

    def __init__(self, exclusions, base_dir: Path, store=None, since: dt.datetime | None = None):
        self.exclusions, self.base_dir, self.store, self.since = tuple(exclusions), Path(base_dir), store, since
        self._sets: dict[int, set[str]] = {}
        self._stamp: dict[int, float] = {}

    def numbers(self, now: float) -> set[str]:
        out: set[str] = set()
        for index, exclusion in enumerate(self.exclusions):
            out |= self._refresh(index, exclusion, now)
        return out

    def _refresh(self, index: int, exclusion: Exclusion, now: float) -> set[str]:
        if exclusion.dnc_file:
            path = self.base_dir / exclusion.dnc_file
            try:
                mtime = os.stat(path).st_mtime
            except OSError as exc:
                raise SourceProblem(f"{path}: cannot read the do-not-call list: {exc.strerror}") from None
            if self._stamp.get(index) != mtime:
                self._sets[index] = read_dnc_file(path)
                self._stamp[index] = mtime
            return self._sets[index]
        due = self._stamp.get(index)
        if due is None or now - due >= exclusion.refresh_s:
            try:
                self._sets[index] = self._query(exclusion)
                self._stamp[index] = now
            except Exception as exc:
                if index not in self._sets:
                    raise SourceProblem(f"exclusion query {exclusion.query} failed and was never read: {exc}") \
                        from exc
        return self._sets[index]

    def _query(self, exclusion: Exclusion) -> set[str]:
        if self.store is None:
            raise SourceProblem(f"exclusion query {exclusion.query}: a database ([store]) is needed")
        params = dict(exclusion.params)
        takes = {p.name for p in self.store.catalog.get(exclusion.query).params}
        if "since" in takes and "since" not in params and self.since is not None:
            params["since"] = self.since
        numbers = set()
        for row in self.store.query(exclusion.query, params):
            number = clean_number(row.get("number"))
            if number:
                numbers.add(number)
        return numbers
