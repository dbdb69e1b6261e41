"""A call in progress keeps the line it started with, named queries included (issue 17):
queries are read again at each reload, and a call started before it runs its later sql
nodes on the old queries while a new call runs on the new ones. Before, a running worker
never read its queries again: a deploy's edited query reached no call until a restart."""
from fsapp import config

from deploy_helpers import wait_until

FLOW = """flow: pinned
numbers: ["20001"]
languages: [zh-CN]
start: first
nodes:
  first:
    sql: {query: pin.word, into: a}
    next: menu
  menu:
    menu: {prompt: common/welcome, options: {"1": second}, timeout: 300s, tries: 1, on_fail: second}
  second:
    sql: {query: pin.word, into: b}
    next: bye
  bye: {hangup: {prompt: common/goodbye}}
"""
QUERY = "-- name: word\nSELECT '{word}' AS word;\n"


def test_a_reload_mid_call_old_call_keeps_old_queries_new_call_gets_new(project, tmp_path):
    from fsapp.esl.outbound import OutboundServer
    from fsapp.app.services import flow_handler
    from fsapp.sim import CallerScript, RealClock, Socket, Switch

    queries = tmp_path / "queries"
    queries.mkdir(exist_ok=True)     # the project fixture copies the repository's queries there
    (queries / "pin.sql").write_text(QUERY.format(word="old"), encoding="utf-8")
    # the line's own queries directory and SQLite database
    lines = [ln for ln in project.path.read_text().splitlines() if not ln.startswith(("queries = ", "spool = "))]
    text = "\n".join(lines).replace("[store]\n", f'[store]\nqueries = "{queries}"\nspool = "{tmp_path}/spool"\n')
    text += f'\n[store.connections.main]\nodbc = "Driver={{SQLite3}};Database={tmp_path}/fsapp.db"\n'
    project.path.write_text(text)
    cfg = config.load(project.path, env={})
    (tmp_path / "flows" / "live.yaml").unlink()
    (tmp_path / "flows" / "pinned.yaml").write_text(FLOW, encoding="utf-8")
    handler = flow_handler(tmp_path / "flows", cfg)
    switch = Switch(esl=("127.0.0.1", 0), clock=RealClock()).start()
    server = OutboundServer(handler, ("127.0.0.1", 0), linger=5).start()
    switch.dialplan.add(r"^20001$", Socket(f"127.0.0.1:{server.port} async full"))

    def in_menu(caller):
        return lambda: any(p.endswith("welcome.wav") for p in caller.report.heard)

    def press_1(caller):
        for uuid in (caller.leg.uuid, caller.leg.links.peer.uuid):
            ch = switch.channels.get(uuid)
            if ch is not None and ch.sessions:
                assert switch.api.execute("uuid_recv_dtmf", f"{uuid} 1").startswith("+OK")

    try:
        before = switch.place_call(CallerScript(dial="20001", steps=[]))
        wait_until(in_menu(before), "the first caller in the menu", limit=120.0)
        (queries / "pin.sql").write_text(QUERY.format(word="new"), encoding="utf-8")
        assert handler.reload()["ok"]
        after = switch.place_call(CallerScript(dial="20001", steps=[]))
        wait_until(in_menu(after), "the second caller in the menu", limit=120.0)
        press_1(before)
        press_1(after)
        wait_until(lambda: len(handler.outcomes) == 2, "both calls to end", limit=120.0)
        words = sorted((o.vars["a"]["word"], o.vars["b"]["word"]) for o in handler.outcomes)
        assert words == [("new", "new"), ("old", "old")]
    finally:
        server.stop(timeout=2)
        switch.stop()
        if handler.services.store is not None:
            handler.services.store.close()
