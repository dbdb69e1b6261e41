"""Every `fsapp VERB ...` shown in docs/*.md and README.md exists, with those options."""
import pytest
from doccheck import DOCS, ROOT, Mention, check, mentions

PAGES = sorted(DOCS.glob("*.md")) + [ROOT / "README.md"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_commands_in_docs_exist(page):
    problems = [f"{m.file}:{m.line}: {m.text.strip()}: {why}"
                for m in mentions(page) if (why := check(m))]
    assert not problems, "\n".join(problems)


def test_docs_mention_commands_at_all():
    assert sum(len(mentions(page)) for page in PAGES) > 100


@pytest.mark.parametrize("text, words, expected", [
    ("fsapp validate ivr_flows/", ("validate", "ivr_flows/"), None),
    ("fsapp validte x", ("validte", "x"), "no such verb 'validte'"),
    ("fsapp simulate f.yaml --presss 1", ("simulate", "f.yaml", "--presss", "1"), "no option --presss"),
    ("fsapp db outbox replay --dead", ("db", "outbox", "replay", "--dead"), None),
    ("fsapp db outbox flush", ("db", "outbox", "flush"), "no subcommand 'flush'"),
    ("fsapp --config x.toml queue list --json", ("--config", "x.toml", "queue", "list", "--json"), None),
    ("fsapp queue/agent/tier", ("queue/agent/tier",), None),
    ("fsapp queue/agents", ("queue/agents",), "no such verb"),
])
def test_checker_catches_mistakes(text, words, expected):
    why = check(Mention("x.md", 1, text, words, True))
    if expected is None:
        assert why is None
    else:
        assert why and expected in why


def test_code_contexts(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("Prose about fsapp serve workers.\n"
                    "Run `fsapp reload --sockett x`.\n"
                    "```console\n$ fsapp db check\nok fsapp tables here\n```\n"
                    "```python\nfrom fsapp import Call\n```\n"
                    "```\nfsapp throughput vs greenswitch\nfsapp conf render --dryrun\n```\n", encoding="utf-8")
    import doccheck
    old = doccheck.ROOT
    doccheck.ROOT = tmp_path
    try:
        found = {m.text.strip(): check(m) for m in mentions(page)}
    finally:
        doccheck.ROOT = old
    assert set(found) == {"fsapp reload --sockett x", "fsapp db check", "fsapp throughput vs greenswitch",
                          "fsapp conf render --dryrun"}
    assert "no option --sockett" in found["fsapp reload --sockett x"]
    assert found["fsapp db check"] is None
    assert found["fsapp throughput vs greenswitch"] is None      # output text, not a command
    assert "no option --dryrun" in found["fsapp conf render --dryrun"]
