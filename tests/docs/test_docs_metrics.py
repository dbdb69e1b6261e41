"""docs/metrics.md: its table is fsapp.live.metrics.SPECS, its example runs, and the
Grafana dashboard it ships uses only metrics that exist."""
import json
import re

from doccheck import DOCS, ROOT

from fsapp.live.metrics import BY_NAME, SPECS

DOC = DOCS / "metrics.md"
DASHBOARD = DOCS / "grafana" / "fsapp.json"
ROW = re.compile(r"^\| `(fsapp_[a-z_]+)` \| (\w+) \| ([^|]*) \| ([^|]+) \|", re.M)


def test_table_lists_every_metric_as_declared():
    rows = ROW.findall(DOC.read_text(encoding="utf-8"))
    assert [name for name, *_ in rows] == [spec.name for spec in SPECS]
    for (name, kind, labels, meaning), spec in zip(rows, SPECS):
        assert kind == spec.kind, name
        assert re.findall(r"`(\w+)`", labels) == list(spec.labels), name
        assert meaning.strip() == spec.help, name


def test_example_runs(doc_runner):
    outputs = doc_runner.run_doc(DOC)
    assert len(outputs) == 1, "metrics.md doc-test blocks changed: update this test"


def dashboard_metrics() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert exprs
    names = set()
    for expr in exprs:
        for name in re.findall(r"\bfsapp_[a-z_]+", expr):
            base = re.sub(r"_(bucket|count|sum)$", "", name)
            names.add(base if base in BY_NAME and BY_NAME[base].kind == "histogram" else name)
    return names


def test_dashboard_uses_only_metrics_that_exist():
    unknown = dashboard_metrics() - set(BY_NAME)
    assert not unknown, f"docs/grafana/fsapp.json uses metrics fsapp does not export: {sorted(unknown)}"


def test_dashboard_shows_every_metric():
    missing = set(BY_NAME) - dashboard_metrics()
    assert not missing, f"docs/grafana/fsapp.json has no panel for {sorted(missing)}"


def test_doc_links_the_dashboard():
    assert "(grafana/fsapp.json)" in DOC.read_text(encoding="utf-8")
    assert DASHBOARD.relative_to(ROOT)
