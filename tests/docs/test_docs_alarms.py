"""docs/alarms.md: its example runs; its rule table names every rule the engine has."""
import re

from doccheck import DOCS

from fsapp.config import SCHEMA

DOC = DOCS / "alarms.md"


def test_example_runs(doc_runner):
    outputs = doc_runner.run_doc(DOC)
    assert len(outputs) == 1, "alarms.md doc-test blocks changed: update this test"


def test_rule_table_settings_exist():
    text = DOC.read_text(encoding="utf-8")
    settings = re.findall(r"^\| `\w+` \| (.*?) \|", text, re.M)
    named = {s for row in settings for s in re.findall(r"`(\w+)`", row)}
    assert named and named <= set(SCHEMA["alarms"]), named - set(SCHEMA["alarms"])
