"""Prompt paths for announce-agent-id ("agent number 1001 will serve you").

routing may not import fsapp.say or fsapp.sounds (docs/architecture.md), so whoever makes
the Router (the flow runtime, serve, a test) hands both in:

    from fsapp.say import render
    from fsapp.sounds import Catalog
    router.agent_id_prompts = AgentIdPrompts(Catalog.load("sounds/catalog.yaml"), render)

The Router calls it as `agent_id_prompts(queue, agent, lang) -> [paths]` and plays the
paths to the caller before the bridge. Any callable with that signature will do.
"""
from __future__ import annotations


class AgentIdPrompts:
    def __init__(self, catalog, render):
        """`catalog`: an fsapp.sounds.Catalog (has/path); `render`: fsapp.say.render."""
        self.catalog = catalog
        self.render = render

    def names(self, queue, agent: str, lang: str) -> list[str]:
        if not agent.isdigit():
            raise ValueError(f"agent {agent!r}: only agents named by digits can be announced")
        names = [queue.agent_id_prompt] + list(self.render(lang, "digits", agent))
        if queue.agent_id_prompt_after:
            names.append(queue.agent_id_prompt_after)
        return names

    def __call__(self, queue, agent: str, lang: str) -> list[str]:
        names = self.names(queue, agent, lang)
        missing = [n for n in names if not self.catalog.has(n, lang)]
        if missing:
            raise LookupError(f"queue {queue.name!r} announce-agent-id: prompts missing from the catalog "
                              f"in {lang}: {', '.join(missing)}; add them to sounds/catalog.yaml")
        return [str(self.catalog.path(n, lang)) for n in names]
