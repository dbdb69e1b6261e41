"""docs/reports.md is executed: its `$ fsapp ...` console lines run through the CLI on a
fresh SQLite database, in order, and their output must be what the page shows."""
import json
import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from fsapp.cli import main
from tests.fsapp_toml import sqlite_store

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reports.md"


def console_commands():
    for block in re.findall(r"```console\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            line, _, expected = chunk.partition("\n")
            yield line, [ln for ln in expected.splitlines() if ln.strip()]


def test_console_examples_run(tmp_path, monkeypatch, fsapp_toml):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").symlink_to(ROOT / "docs")          # the doc's paths are relative to the repository
    cfg = fsapp_toml({"store": sqlite_store(tmp_path, main=tmp_path / "fsapp.db")})
    ran = 0
    for line, want in console_commands():
        argv = shlex.split(line)
        assert argv[0] == "fsapp"
        result = CliRunner().invoke(main, ["--config", str(cfg), *argv[1:]], catch_exceptions=False)
        assert result.exit_code == 0, f"{line}\n{result.output}"
        got = result.stdout.splitlines()
        if want and want[-1] == "...":
            want, got = want[:-1], got[:len(want) - 1]
        assert got == want, line
        if "--chart" in argv:
            chart = tmp_path / argv[argv.index("--chart") + 1]
            assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"chart: {chart.name}" in result.stderr
            assert json.loads(result.stdout)["total"]["offered"] == 9
        ran += 1
    assert ran == 19


def test_table_output_and_clear_errors(tmp_path, fsapp_toml):
    from fsapp.report import Range, Rules, run_report   # noqa: F401 - the API the doc names
    cfg = fsapp_toml({"store": sqlite_store(tmp_path, main=tmp_path / "fsapp.db")})
    run = lambda *a: CliRunner().invoke(main, ["--config", str(cfg), *a])  # noqa: E731
    assert run("db", "init").exit_code == 0
    assert run("db", "script", str(ROOT / "docs" / "examples" / "report-records.sql")).exit_code == 0
    table = run("report", "--date", "2026-12-07")
    assert table.exit_code == 0
    assert "queue report 2026-12-07 by total, SL 80/20 over answered+abandoned" in table.output
    hotline = next(ln for ln in table.output.splitlines() if " hotline " in ln)
    assert re.findall(r"[\d.]+", hotline)[-16:] == ["7", "3", "2", "1", "28.6", "20.0", "30.0", "161.5", "71.4",
                                                    "2", "0", "66.7", "1", "1", "1", "4"]
    bad = run("report", "--date", "2026-12-77")
    assert bad.exit_code != 0 and "--date: '2026-12-77' is not a date; write YYYY-MM-DD" in bad.output
    bad = run("report", "--target", "80")
    assert bad.exit_code != 0 and "--target '80': write PERCENT/SECONDS" in bad.output
    empty = tmp_path / "empty.toml"
    empty.write_text(cfg.read_text().replace("fsapp.db", "nothing.db"))
    missing = CliRunner().invoke(main, ["--config", str(empty), "report"])
    assert missing.exit_code != 0 and "no fsapp tables; the reports need version 2: run `fsapp db migrate`" in missing.output
