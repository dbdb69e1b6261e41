"""docs/databases.md is executed: its Python blocks run in order against SQLite, its
`$ fsapp ...` console lines run through the CLI (output compared where the doc shows
it), and its example named query is loaded and run on the billing example."""
import datetime as dt
import re
import shlex
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner

from fsapp.cli import main
from fsapp.store import Store
from tests.fsapp_toml import sqlite_store

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "databases.md"


def blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_python_examples_run(tmp_path):
    namespace = {"workdir": tmp_path, "repo": ROOT}
    try:
        for code in blocks("python"):
            exec(compile(code, str(DOC), "exec"), namespace)
    finally:
        if "store" in namespace:
            namespace["store"].close()


def test_console_examples_run(tmp_path, monkeypatch, fsapp_toml):
    monkeypatch.chdir(ROOT)                 # paths in the doc are relative to the repository
    store = sqlite_store(tmp_path, main=tmp_path / "fsapp.db", billing=tmp_path / "billing.db")
    cfg = fsapp_toml({"store": {**store, "queries": "queries"}})
    ran = 0
    for block in blocks("console"):
        commands = re.split(r"^\$ ", block, flags=re.M)[1:]
        for chunk in commands:
            line, _, expected = chunk.partition("\n")
            argv = shlex.split(line.split("  #")[0])
            assert argv[0] == "fsapp"
            result = CliRunner().invoke(main, ["--config", str(cfg), *argv[1:]], catch_exceptions=False)
            assert result.exit_code == 0, f"{line}\n{result.output}"
            want = [ln for ln in expected.splitlines() if ln.strip()]
            got = result.stdout.splitlines()
            if want and want[-1] == "...":          # the doc shows the first lines only
                want, got = want[:-1], got[:len(want) - 1]
            if want:
                def same(lines):   # the test's own paths stand where the doc shows billing.db
                    return [re.sub(r"\b\d+ named queries", "N named queries", ln).replace(f"{tmp_path}/", "")
                            for ln in lines]
                assert same(got) == same(want), line
            ran += 1
    assert ran >= 10


def test_sql_example_is_a_valid_named_query(tmp_path):
    (sql,) = blocks("sql")
    qdir = tmp_path / "q"
    qdir.mkdir()
    (qdir / "example.sql").write_text(sql, encoding="utf-8")
    store = Store({"main": f"Driver={{SQLite3}};Database={tmp_path / 'm.db'}",
                   "billing": f"Driver={{SQLite3}};Database={tmp_path / 'b.db'}"},
                  queries_dir=qdir, spool_dir=tmp_path / "spool", start=False)
    try:
        for part in ("schema", "seed"):
            store.execute_script((ROOT / "examples" / "billing" / f"{part}.sqlite.sql").read_text("utf-8"), "billing")
        row = store.query_one("example.balance", {"account_no": "100200300501", "as_of": dt.date(2026, 11, 28)})
        assert row == {"account_no": "100200300501", "amount_due": Decimal("390.72"),
                       "due_date": dt.date(2026, 9, 20), "overdue_bills": 3, "open_bills": 3}
    finally:
        store.close()
