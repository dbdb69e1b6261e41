"""`fsapp staffing` from the command line: table, CSV, forecast, clear errors."""
import json

from click.testing import CliRunner

from fsapp.cli import main


def run(*args):
    return CliRunner().invoke(main, ["staffing", *args])


def test_table_names_the_requirement():
    out = run("--calls", "100", "--aht", "180", "--interval", "30", "--patience", "120")
    assert out.exit_code == 0
    assert "Erlang C needs 14 agents for 80/20; Erlang A (patience 120 s) needs 12" in " ".join(out.output.split())
    rows = json.loads(run("--calls", "100", "--aht", "180", "--interval", "30", "--format", "json").output)["rows"]
    assert [r["agents"] for r in rows] == list(range(11, 18)) and rows[3]["sl_c"] == 88.8


def test_errors_name_the_option_or_line(tmp_path):
    assert "give either --calls N" in run("--aht", "180").output
    assert "--target '80-20': write PERCENT/SECONDS" in run("--calls", "5", "--aht", "180", "--target", "80-20").output
    assert "between 0 and 100" in run("--calls", "5", "--aht", "180", "--shrinkage", "120").output
    bad = tmp_path / "f.csv"
    bad.write_text("interval,calls,aht\n08:00,10,\n08:30,12,-5\n")
    assert f"{bad}:3: aht '-5' is not a positive number of seconds" in run("--forecast", str(bad), "--aht", "200").output
    bad.write_text("when,volume\n08:00,10\n")
    assert f"{bad}:1: the header must name the columns interval and calls" in \
        run("--forecast", str(bad), "--aht", "200").output
