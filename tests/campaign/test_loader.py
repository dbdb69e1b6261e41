"""Campaign files: every reference campaign loads; mistakes are reported as file:line:col."""
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from fsapp.campaign.loader import CampaignError, load_campaign, load_campaigns, parse_text
from fsapp.cli import main

ROOT = Path(__file__).resolve().parents[2]

GOOD = textwrap.dedent("""\
    campaign: demo
    flow: outage_notice
    contacts: {csv: campaigns/data/district7.csv}
    calendar: outbound_daytime
    pacing: {calls_per_minute: 30, max_concurrent: 10}
    dial: {template: "sofia/gateway/{gateway}/{number}", gateway: carrier1, timeout: 20s}
    retry: {max_attempts: 3, busy: 10m, no_answer: 30m, failed: 1h, not_completed: 2h}
    """)


def problems(text):
    campaign, found = parse_text(text, "c.yaml")
    assert campaign is None
    return [str(p) for p in found]


def test_reference_campaigns_load_and_validate():
    refs = dict(flows={"outage_notice", "identity_notice", "work_order_survey"},
                calendars={"outbound_daytime", "outbound_evening"},
                queries={"campaigns.served_since", "campaigns.closed_work_orders"}, base_dir=ROOT)
    found, problems_ = load_campaigns([ROOT / "campaigns"], **refs)
    assert problems_ == []
    assert set(found) == {"water_outage_d7", "identity_update", "work_order_survey"}
    identity = found["identity_update"]
    assert identity.calendar == "outbound_evening" and identity.retry.max_attempts == 4
    assert identity.exclusions[1].query == "campaigns.served_since" and identity.exclusions[1].refresh_s == 86400
    assert identity.retry.after == {"busy": 900, "no_answer": 7200, "failed": 14400, "not_completed": 86400}
    assert found["work_order_survey"].contacts.query == "campaigns.closed_work_orders"


def test_good_text_parses():
    campaign, found = parse_text(GOOD, "c.yaml")
    assert found == [] and campaign.dial.timeout_s == 20 and campaign.pacing.calls_per_minute == 30


@pytest.mark.parametrize("old, new, line, token, message", [
    ("calendar: outbound_daytime", "calender: outbound_daytime", 4, "calender", "unknown key 'calender'"),
    ("timeout: 20s", "timeout: soon", 6, "soon", "dial.timeout: 'soon' is not a duration"),
    ("{number}\"", "{number} &park\"", 6, "\"sofia", "dial.template: 'sofia/gateway/{gateway}/{number} &park'"),
    ("gateway: carrier1,", "gateway: carrier1, caller_id: \"95598,x=y\",", 6, "\"95598",
     "dial.caller_id: '95598,x=y' must be digits"),
    ("failed: 1h, ", "", 7, "{max", "retry: give the wait before the next attempt for failed"),
    ("max_concurrent: 10", "max_concurrent: 0", 5, "0}", "pacing.max_concurrent: 0 is outside 1..10000"),
    ("{csv: campaigns/data/district7.csv}", "{csv: a.csv, query: x.y}", 3, "{csv", "contacts: give exactly one"),
    ("campaign: demo", "campaign: demo\ncampaign: again", 2, "campaign", "duplicate key 'campaign'"),
])
def test_mistakes_name_line_and_column(old, new, line, token, message):
    assert old in GOOD
    text = GOOD.replace(old, new)
    col = text.splitlines()[line - 1].index(token) + 1
    found = problems(text)
    assert any(p.startswith(f"c.yaml:{line}:{col}: {message}") for p in found), found


def test_missing_and_syntax():
    assert any("'retry' is required" in p for p in problems(GOOD.replace("retry:", "#retry:")))
    assert problems("campaign: [unclosed\n")[0].startswith("c.yaml:")


def test_references_are_checked(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(GOOD.replace("outage_notice", "no_such_flow"), encoding="utf-8")
    with pytest.raises(CampaignError) as info:
        load_campaign(path, flows={"outage_notice"}, calendars={"outbound_daytime"}, queries=set(),
                      base_dir=tmp_path)
    text = str(info.value)
    assert f"{path}:2:7: flow 'no_such_flow' is not defined" in text
    assert "file 'campaigns/data/district7.csv' does not exist" in text


def test_fsapp_validate_checks_campaigns_beside_flows(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["validate", "ivr_flows", "campaigns"])
    assert result.exit_code == 0, result.output
    assert "ok campaigns/water_outage.yaml: campaign water_outage_d7" in result.output
    assert "ok ivr_flows/outage_notice.yaml: flow outage_notice" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("outbound_daytime", "nowhere"), encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:4:11: calendar 'nowhere' is not defined" in result.output
    result = CliRunner().invoke(main, ["campaign", "validate", "--json", str(bad)])
    assert result.exit_code == 1 and '"line": 4' in result.output
