"""Shared pieces of the flow tests: a validation environment and a compact flow builder."""
from __future__ import annotations

import textwrap

from fsapp.flow.compiler import Environment, compile_text

PROMPTS = {
    "zh-CN": {"hotline/welcome", "hotline/main_menu", "hotline/enter_ticket", "common/invalid",
              "common/goodbye", "common/thanks", "common/beep", "hotline/leave_message",
              "hotline/review", "hotline/confirm", "hotline/not_found", "hotline/status_is",
              "hotline/closed", "hotline/after_hours", "hotline/balance_is", "hotline/no_input"},
}
PROMPTS["en-US"] = set(PROMPTS["zh-CN"]) - {"hotline/after_hours"}

ENV = Environment(has_prompt=lambda name, lang: name in PROMPTS.get(lang, ()),
                  queries=frozenset({"hotline.ticket_status", "billing.balance"}),
                  queues=frozenset({"hotline_agents", "water_billing"}),
                  calendars=frozenset({"office_hours"}),
                  write_kinds={"call_record": frozenset({"caller_number", "flow", "hangup_cause"}),
                               "survey_answer": frozenset({"survey", "question", "answer"})})


def flow_text(nodes: str, header: str = "", start: str = "welcome", languages: str = "[zh-CN]",
              tail: str = "") -> str:
    head = f"flow: t\nnumbers: [\"12345\"]\nlanguages: {languages}\nstart: {start}\n"
    return head + textwrap.dedent(header) + "nodes:\n" + textwrap.indent(textwrap.dedent(nodes), "  ") \
        + textwrap.dedent(tail)


def problems(text: str, env: Environment = ENV) -> list[str]:
    flow, found = compile_text(text, "f.yaml", env)
    assert (flow is None) == bool(found)
    return [f"{p.line}:{p.col}: {p.message}" for p in found]


def compiled(text: str, env: Environment = ENV):
    flow, found = compile_text(text, "f.yaml", env)
    assert not found, "\n".join(map(str, found))
    return flow
