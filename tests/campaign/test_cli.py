"""CLI details not covered by docs/campaigns.md's executed examples."""
import click
import pytest
from click.testing import CliRunner

from fsapp.cli import main
from fsapp.cli.sim import _parse_agent


def test_sim_agent_presses():
    assert _parse_agent("13900000001:1:300:yes:4/1,9.5/2#") == \
        ("13900000001", 1.0, 300.0, True, ((4.0, "1"), (9.5, "2#")))
    assert _parse_agent("1001") == ("1001", 1.0, 30.0, True, ())
    with pytest.raises(click.BadParameter, match="AT/DIGITS"):
        _parse_agent("1001:1:3:yes:soon/1")


def test_unknown_campaign_and_unloaded_campaign(tmp_path, monkeypatch, fsapp_toml):
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)
    cfg = fsapp_toml({"campaign": {"sqlite": tmp_path / "state.db"}})
    result = CliRunner().invoke(main, ["--config", str(cfg), "campaign", "status", "nope"])
    assert result.exit_code == 1 and "no campaign 'nope' in campaigns/" in result.output
    assert "water_outage_d7" in result.output
    result = CliRunner().invoke(main, ["--config", str(cfg), "campaign", "pause", "water_outage_d7"])
    assert result.exit_code == 1
    assert "has no contacts yet: run `fsapp campaign load water_outage_d7`" in result.output
