"""The pure core: content hash and the operator's diff."""
from fsapp.deploy import content_hash, diff

FLOW = b"""flow: live
numbers: ["20000"]
languages: [zh-CN]
start: menu
nodes:
  menu: {menu: {prompt: common/welcome, options: {"1": bye}}}
  bye: {hangup: {prompt: common/goodbye}}
"""
ROUTING = b"queues:\n  hotline: {strategy: longest-idle-agent}\n  sales: {strategy: ring-all}\n"
CATALOG = b"prompts:\n  common/welcome: {zh-CN: a}\n  common/goodbye: {zh-CN: b}\n"


def test_content_hash_depends_on_names_and_bytes_not_order():
    a = {"flows/a.yaml": b"x", "routing.yaml": b"y"}
    assert content_hash(a) == content_hash(dict(reversed(list(a.items()))))
    assert content_hash(a) != content_hash({"flows/a.yaml": b"x", "routing.yaml": b"y "})
    assert content_hash(a) != content_hash({"flows/b.yaml": b"x", "routing.yaml": b"y"})
    # a file's bytes cannot slide into its name
    assert content_hash({"ab": b"c"}) != content_hash({"a": b"bc"})


def test_diff_names_flows_nodes_numbers_queues_prompts():
    old = {"flows/live.yaml": FLOW, "flows/old.yaml": FLOW.replace(b"live", b"old").replace(b"20000", b"30000"),
           "routing.yaml": ROUTING, "sounds/catalog.yaml": CATALOG}
    new_flow = FLOW.replace(b"common/goodbye", b"common/thanks").replace(
        b"  bye:", b"  extra: {hangup: {}}\n  bye:")
    new = {"flows/live.yaml": new_flow, "flows/fresh.yaml": FLOW.replace(b"live", b"fresh").replace(b"20000", b"40000"),
           "routing.yaml": ROUTING.replace(b"ring-all", b"round-robin").replace(b"  hotline", b"  vip: {}\n  hotline"),
           "sounds/catalog.yaml": CATALOG + b"  common/thanks: {zh-CN: c}\n"}
    d = diff(old, new)
    assert (d.flows.added, d.flows.changed, d.flows.removed) == (["fresh"], ["live"], ["old"])
    assert (d.nodes["live"].added, d.nodes["live"].changed) == (["extra"], ["bye"])
    assert d.numbers.added == ["40000 -> fresh"] and d.numbers.removed == ["30000 -> old"]
    assert (d.queues.added, d.queues.changed, d.queues.removed) == (["vip"], ["sales"], [])
    assert d.prompts.added == ["common/thanks"]
    assert d.files.added == ["flows/fresh.yaml"] and d.files.removed == ["flows/old.yaml"]
    lines = d.lines()
    assert "flows     ~ live (nodes added: extra; nodes changed: bye)" in lines
    assert "numbers   + 40000 -> fresh" in lines and "queues    ~ sales" in lines


def test_no_changes_and_unparsable_files_still_count():
    files = {"flows/live.yaml": FLOW}
    assert diff(files, dict(files)).lines() == ["no changes"]
    d = diff(files, {"flows/live.yaml": b"flow: [unclosed"})
    assert d.files.changed == ["flows/live.yaml"] and not d.empty
    assert d.flows.removed == ["live"]   # the new text names no flow


def test_diff_names_queries_added_changed_removed():
    old = {"queries/crm.sql": b"-- name: lookup\n-- params: n\nSELECT 1 WHERE x = ?;\n\n"
                              b"-- name: gone\nSELECT 2;\n",
           "queries/other.sql": b"-- name: same\nSELECT 3;\n"}
    new = {"queries/crm.sql": b"-- name: lookup\n-- params: n\nSELECT 1 WHERE y = ?;\n",
           "queries/other.sql": b"-- name: same\nSELECT 3;\n\n-- name: fresh\nSELECT 4;\n"}
    d = diff(old, new)
    assert (d.queries.added, d.queries.changed, d.queries.removed) == (["other.fresh"], ["crm.lookup"], ["crm.gone"])
    lines = d.lines()
    assert "queries   + other.fresh" in lines and "queries   ~ crm.lookup" in lines
    assert "queries   - crm.gone" in lines and "files     ~ queries/crm.sql" in lines


def test_diff_reads_yaml_as_the_validator_does():
    """fsapp.yamlsrc, not a YAML parser of its own: an alias bomb or a duplicate key does not
    parse here either (the file still counts as changed), and is never expanded."""
    files = {"flows/live.yaml": FLOW}
    bomb = b'flow: live\nnodes:\n  a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]\n' + b"".join(
        f"  {chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n".encode() for i in range(8))
    for text in (bomb, FLOW + b"flow: other\n"):
        d = diff(files, {"flows/live.yaml": text})
        assert d.files.changed == ["flows/live.yaml"] and d.flows.removed == ["live"], text
