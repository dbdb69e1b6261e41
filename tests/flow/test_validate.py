"""The validator: every problem class reported as file:line:col with a hint, all in one run."""
import pytest

from flow_helpers import ENV, compiled, flow_text, problems
from fsapp.flow.compiler import Environment, compile_paths, compile_text

GOOD = flow_text("""
    welcome: {schedule: office_hours, open: main_menu, closed: closed}
    closed: {hangup: {prompt: hotline/goodbye_missing_ok}}
    main_menu:
      menu:
        prompt: hotline/main_menu
        options: {1: status, "0": agent}
        invalid: common/invalid
        on_fail: bye
    status:
      collect: {prompt: hotline/enter_ticket, min: 8, max: 8, validate: '^\\d{8}$', into: ticket_no}
      next: lookup
      on_fail: bye
    lookup:
      sql: {query: hotline.ticket_status, params: {serial: "{{ ticket_no }}"}, into: ticket, on_error: bye}
      next: decide
    decide:
      branch:
        - {when: "ticket is none", goto: not_found}
      else: say_status
    not_found: {play: hotline/not_found, next: main_menu}
    say_status: {play: [hotline/status_is, "hotline/status_{{ ticket.status }}"], next: bye}
    agent: {queue: hotline_agents, priority: 2, skills: [mandarin]}
    bye: {hangup: {prompt: common/goodbye}}
""")


def test_good_flow_compiles_to_an_immutable_versioned_graph():
    env = Environment(has_prompt=lambda n, l: True, queries=ENV.queries, queues=ENV.queues,
                      calendars=ENV.calendars)
    flow = compiled(GOOD, env)
    assert flow.start == "welcome" and flow.numbers == ("12345",)
    menu = flow.nodes["main_menu"]
    assert menu.args["options"] == {"1": "status", "0": "agent"}   # 1 and "1" are the same key
    assert menu.args["tries"] == 3 and menu.args["timeout"] == 5.0  # defaults from the spec
    assert [e.target for e in menu.edges] == ["status", "agent", "bye"]
    assert flow.nodes["status"].sets == {"ticket_no"}
    assert flow.nodes["lookup"].uses == {"ticket_no"}
    with pytest.raises(TypeError):
        flow.nodes["main_menu"].args["tries"] = 9
    with pytest.raises(TypeError):
        flow.nodes["x"] = None
    again, _ = compile_text(GOOD, "other.yaml", env)
    changed, _ = compile_text(GOOD.replace("priority: 2", "priority: 3"), "f.yaml", env)
    assert again.version == flow.version and changed.version != flow.version


@pytest.mark.parametrize("nodes, expected", [
    ("welcome: {plya: x}\n", "6:13: node 'welcome': unknown node kind 'plya'"),
    ("welcome: {play: hotline/welcome, next: bye, colour: red}\nbye: {hangup: {}}\n",
     "6:47: node 'welcome' (play): unknown field 'colour'"),
    ("welcome: {play: hotline/welcome, hangup: {}}\n", "one node has one kind"),
    ("welcome: {menu: {prompt: hotline/main_menu, options: {1: bye}, tries: many, on_fail: bye}}\n"
     "bye: {hangup: {}}\n", "6:73: node 'welcome' (menu): tries: expected an integer, got str 'many'"),
    ("welcome: {menu: {prompt: hotline/main_menu, options: {1: bye}, timeout: soon, on_fail: bye}}\n"
     "bye: {hangup: {}}\n", "timeout: 'soon' is not a duration"),
    ("welcome: {play: hotline/welcome, next: byee}\nbye: {hangup: {}}\n",
     "6:42: node 'welcome': next: undefined node 'byee'"),
    ("welcome: {play: hotline/welcome}\n", "6:12: node 'welcome' (play): dead end: no `next`"),
    ("welcome: {play: hotline/welcome, next: bye}\nbye: {hangup: {}}\nlost: {hangup: {}}\n",
     "8:3: node 'lost' is never reached from start 'welcome'"),
    ("welcome: {play: common/beep, next: again}\nagain: {goto: welcome}\n",
     "6:3: loop without caller input or exit: welcome -> again -> welcome"),
    ("welcome: {menu: {prompt: hotline/main_menu, options: {1: welcome}, on_fail: welcome}}\n",
     "dead end: from 'welcome' no path reaches a hangup, transfer, queue or return"),
    ("welcome: {play: hotline/welcome_missing, next: bye}\nbye: {hangup: {}}\n",
     "6:19: prompt 'hotline/welcome_missing' is missing for zh-CN"),
    ("welcome: {sql: {query: hotline.nope, into: t}, next: bye}\nbye: {hangup: {}}\n",
     "6:26: unknown query 'hotline.nope'"),
    ("welcome: {queue: hotline_agent}\n", "6:20: unknown queue 'hotline_agent'"),
    ("welcome: {schedule: office, open: bye, closed: bye}\nbye: {hangup: {}}\n",
     "unknown calendar 'office'"),
    ("welcome: {play: \"x/{{ ticket_no }}\", next: bye}\nbye: {hangup: {}}\n",
     "6:19: node 'welcome': variable 'ticket_no' is used before any path sets it"),
    ("welcome: {branch: [{when: \"x ==\", goto: bye}], else: bye}\nbye: {hangup: {}}\n",
     "bad expression 'x =='"),
    ("welcome: {branch: [{when: \"{{ x }}\", goto: bye}], else: bye}\nbye: {hangup: {}}\n",
     "an expression is written without {{ }}"),
    ("welcome: {collect: {prompt: hotline/enter_ticket, max: 4, validate: '[', into: n}, next: bye, "
     "on_fail: bye}\nbye: {hangup: {}}\n", "bad regular expression '['"),
    ("welcome: {collect: {prompt: hotline/enter_ticket, min: 5, max: 4, into: n}, next: bye, "
     "on_fail: bye}\nbye: {hangup: {}}\n", "min (5) is greater than max (4)"),
    ("welcome: {set: {call: \"1\"}, next: bye}\nbye: {hangup: {}}\n", "'call' is a built-in variable"),
    ("welcome: {transfer: {extension: \"1001\", number: \"95598\"}}\n",
     "give exactly one of extension, number, flow"),
    ("welcome: {play: {text: hello}, next: bye}\nbye: {hangup: {}}\n",
     "text prompt needs TTS, which is not configured"),
    ("welcome: {menu: {prompt: hotline/main_menu, options: {x: bye}, on_fail: bye}}\nbye: {hangup: {}}\n",
     "expected DTMF keys (0-9 * #), got 'x'"),
    ("welcome: {play: hotline/welcome, next: bye}\nbye: {hangup: {}}\nbye: {hangup: {}}\n",
     "8:3: duplicate key 'bye' (first at line 7)"),
])
def test_each_problem_is_reported_with_its_position(nodes, expected):
    found = problems(flow_text(nodes))
    assert any(expected in p for p in found), found


def test_every_problem_in_one_run_sorted_with_hints():
    text = flow_text("""
        welcome: {play: hotline/welcome, next: menu, volume: 3}
        menu:
          menu: {prompt: hotline/nope, options: {1: status}, tries: 0, on_fail: bye}
        status: {collect: {prompt: hotline/enter_ticket, max: 8, into: n}, next: bye}
        bye: {hangup: {cause: BYE}}
    """)
    flow, found = compile_text(text, "f.yaml", ENV)
    messages = [f"{p.line}: {p.message}" for p in found]
    assert flow is None and len(found) == 5, messages
    assert [p.line for p in found] == sorted(p.line for p in found)
    assert all(str(p).startswith(f"f.yaml:{p.line}:{p.col}: ") for p in found)
    assert any("unknown field 'volume'" in m and m.startswith("7:") for m in messages)
    assert any("tries: 0 is below the minimum 1" in m for m in messages)
    assert any("missing required field 'on_fail'" in m for m in messages)
    assert any("cause: 'BYE' is not one of" in m for m in messages)
    unknown = next(p for p in found if "volume" in p.message)
    assert "fields: prompt, next" in unknown.hint


def test_variables_set_on_a_path_are_available_and_failure_edges_do_not_set():
    ok = flow_text("""
        welcome: {collect: {prompt: hotline/enter_ticket, max: 8, into: n}, next: say, on_fail: bye}
        say: {say: {type: digits, value: "{{ n }}"}, next: bye}
        bye: {hangup: {}}
    """)
    assert problems(ok) == []
    bad = ok.replace("on_fail: bye", "on_fail: say")
    assert problems(bad) == []  # used after a path that sets it: "before any path sets it" is false
    never = flow_text("""
        welcome: {collect: {prompt: hotline/enter_ticket, max: 8, into: n}, next: bye, on_fail: say}
        say: {say: {type: digits, value: "{{ n }}"}, next: bye}
        bye: {hangup: {}}
    """)
    assert any("variable 'n' is used before any path sets it" in p for p in problems(never))
    declared = never.replace("start: welcome\n", "start: welcome\nvars: {n: ''}\n")
    assert problems(declared) == []


def test_set_reads_earlier_pairs_in_order():
    text = flow_text("""
        welcome: {set: {a: "1", b: "a + 1"}, next: bye}
        bye: {hangup: {}}
    """)
    assert problems(text) == []
    assert any("'c' is used before" in p for p in problems(text.replace('"a + 1"', '"c + 1"')))


def test_loop_with_an_exit_or_input_is_fine():
    text = flow_text("""
        welcome: {set: {n: "0"}, next: again}
        again: {set: {n: "n + 1"}, next: check}
        check:
          branch: [{when: "n < 3", goto: again}]
          else: bye
        bye: {hangup: {}}
    """)
    assert problems(text) == []


def test_prompts_must_exist_in_every_declared_language():
    text = flow_text("welcome: {hangup: {prompt: hotline/after_hours}}\n", languages="[zh-CN, en-US]")
    assert problems(text) == ["6:30: prompt 'hotline/after_hours' is missing for en-US"]


def test_unknown_environment_parts_are_not_checked():
    text = flow_text("welcome: {queue: anything}\n")
    assert problems(text, Environment()) == []


def test_a_flow_does_not_write_the_call_record_the_runtime_writes():
    text = flow_text("welcome: {hangup: {}}\n", tail="""
        on_hangup:
          - write: {kind: call_record, row: {caller_number: "{{ call.caller_id }}"}}
    """)
    found = problems(text)
    assert len(found) == 1 and found[0].startswith("9:19: on_hangup step 1 (write): the runtime writes the call "
                                                  "record of every call itself")
    flow, (problem,) = compile_text(text, "f.yaml", ENV)
    assert "set: {outcome:" in str(problem)     # the fix: give the record its outcome as data
    # the outcome is a built-in a flow may set and read
    assert problems(flow_text("welcome: {set: {outcome: \"'x'\"}, next: bye}\nbye: {hangup: {prompt: "
                              "\"{{ outcome }}\"}}\n")) == []


def test_on_hangup_steps_run_without_the_caller():
    text = flow_text("welcome: {hangup: {}}\n", tail="""
        on_hangup:
          - write: {kind: survey_answer, row: {survey: s, question: "{{ call.caller_id }}", answer: "{{ message }}"}}
          - play: hotline/welcome
    """)
    found = problems(text)
    assert any("on_hangup step 2 (play): not allowed in on_hangup" in p for p in found)
    assert any("variable 'message' is never set" in p for p in found)


def test_subflow_signatures_across_files(tmp_path):
    (tmp_path / "main.yaml").write_text(flow_text("""
        welcome: {subflow: {flow: ask, args: {prompt: "'x'", extra: 1}, returns: {got: answer, no: nope}}, next: bye}
        bye: {hangup: {}}
    """), encoding="utf-8")
    (tmp_path / "ask.yaml").write_text("""flow: ask
languages: [zh-CN]
inputs: [prompt, tries]
outputs: [answer]
start: q
nodes:
  q: {collect: {prompt: hotline/enter_ticket, max: 4, into: answer}, next: done, on_fail: done}
  done: {return: {}}
""", encoding="utf-8")
    result = compile_paths([tmp_path], ENV)
    messages = [p.message for p in result.problems]
    assert "node 'welcome': subflow 'ask' needs input 'tries'" in messages
    assert "node 'welcome': subflow 'ask' has no input 'extra'" in messages
    assert "node 'welcome': subflow 'ask' has no output 'nope'" in messages
    assert set(result.flows) == {"ask"}  # flows with problems are not handed out


def test_numbers_belong_to_one_flow(tmp_path):
    for name in ("a", "b"):
        (tmp_path / f"{name}.yaml").write_text(
            flow_text("welcome: {hangup: {}}\n").replace("flow: t", f"flow: {name}"), encoding="utf-8")
    result = compile_paths([tmp_path], ENV)
    assert [p.message for p in result.problems] == ["number 12345 is also answered by flow 'a' "
                                                    f"({tmp_path / 'a.yaml'})"]


@pytest.mark.parametrize("text, expected", [
    ("", "1:1: empty flow file"),
    ("- a\n- b\n", "1:1: a flow file is a mapping"),
    ("flow: [x\n", "YAML syntax"),
    ("flow: x\nflow: y\n", "2:1: duplicate key 'flow' (first at line 1)"),
    ("flow: t\nlanguages: [zh-CN]\nstart: a\nnodes:\n  a: !!python/object:os.system {}\n",
     "unsupported YAML tag"),
    ("flow: t\nlanguages: [zh-CN]\nstart: a\nnodes:\n  a: &x {goto: a, note: *x}\n", "recursive alias"),
    ("flow: t\nlanguages: [zh-CN]\nstart: a\nbase: &b {hangup: {}}\nnodes:\n  a: {<<: *b}\n",
     "merge keys (<<) are not supported"),
    ("flow: 'bad name'\nlanguages: [zh-CN]\nstart: a\nnodes: {a: {hangup: {}}}\n",
     "'bad name' is not a valid flow name"),
    ("flow: t\nlanguages: [chinese]\nstart: a\nnodes: {a: {hangup: {}}}\n", "'chinese' is not a language tag"),
])
def test_bad_files_get_a_clean_problem(text, expected):
    found = problems(text)
    assert any(expected in p for p in found), found


def test_cli_validate_reports_and_exits_1(tmp_path):
    from click.testing import CliRunner
    from fsapp.cli import main
    good = tmp_path / "good.yaml"
    good.write_text(flow_text("welcome: {hangup: {}}\n"), encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(flow_text("welcome: {plya: x}\n").replace("12345", "999"), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(main, ["validate", "--no-env", str(good)])
    assert result.exit_code == 0, result.output
    assert "ok " in result.output and "flow t v" in result.output
    result = runner.invoke(main, ["validate", "--no-env", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{bad}:6:13: node 'welcome': unknown node kind 'plya'" in result.output
    assert "hint: did you mean 'play'?" in result.output
    result = runner.invoke(main, ["validate", "--no-env", "--json", str(bad)])
    assert result.exit_code == 1 and '"line": 6' in result.output


def test_write_rows_must_fit_the_store_tables():
    env = Environment(write_kinds={"survey_answer": frozenset({"survey", "question", "answer"})})
    text = flow_text("""
        welcome: {write: {kind: survey_answer, row: {survey: s, question: q, anwser: "1"}}, next: bye}
        other: {write: {kind: surveys, row: {survey: s}}, next: bye}
        bye: {hangup: {}}
    """, start="welcome")
    found = problems(text, env)
    assert "7:72: write: survey_answer has no column 'anwser'" in found
    assert any("write: unknown kind 'surveys'" in p for p in found)


def test_project_flows_are_valid_against_the_real_environment(monkeypatch):
    """The example flow in ivr_flows/ passes the same checks `fsapp validate` runs."""
    from pathlib import Path
    from fsapp import config
    from fsapp.app.environment import from_config
    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)
    env = from_config(config.load(env={}))
    assert env.write_kinds and "call_record" in env.write_kinds
    result = compile_paths([root / "ivr_flows" / "example_menu.yaml"], env)
    assert result.problems == [] and "example_menu" in result.flows


def test_a_broken_catalog_fails_validation_with_its_own_positions(tmp_path, monkeypatch):
    """A catalog that exists but is wrong is a problem, not a skipped check."""
    from pathlib import Path
    from fsapp import config
    from fsapp.app.environment import from_config
    root = Path(__file__).resolve().parents[2]
    text = (root / "sounds" / "catalog.yaml").read_text(encoding="utf-8")
    broken = text.replace("    en-US: Thank you.\n", "", 1)
    assert broken != text
    (tmp_path / "catalog.yaml").write_text(broken, encoding="utf-8")
    monkeypatch.chdir(root)
    env = from_config(config.load(env={"FSAPP_SOUNDS_DIR": str(tmp_path)}))
    assert env.has_prompt is None and env.problems
    assert all(p.file.endswith("catalog.yaml") and p.line > 1 for p in env.problems)
    result = compile_paths([root / "ivr_flows" / "example_menu.yaml"], env)
    assert result.problems and not result.flows
