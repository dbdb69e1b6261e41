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


class QueuePrompts:
    """Prompt paths for announce-position: the caller's place and estimated wait, in the
    caller's language, from the prompt catalog and the say engine:

        zh-CN  您前面还有两位 / 您是下一位 ... 预计等待时间约三分钟
        en-US  You are number three in line. Your estimated wait is about three minutes.

    Mandarin says how many callers are ahead (position 3: 两位 ahead), English the place
    in line (position 3: number three); 两 before the measure words 位 and 分钟 (the say
    engine's `measure=True`). The Router calls `position(queue, n, lang)` and
    `wait(queue, minutes, lang)`; a language without phrases here is a LookupError (the
    Router logs it and the caller hears the hold music go on).

        router.queue_prompts = QueuePrompts(Catalog.load("sounds/catalog.yaml"), fsapp.say.render)
    """

    def __init__(self, catalog, render):
        self.catalog = catalog
        self.render = render

    def position_names(self, position: int, lang: str) -> list[str]:
        if position < 1:
            raise ValueError(f"queue position {position!r}: positions start at 1")
        if lang == "zh-CN":
            ahead = position - 1
            if not ahead:
                return ["queue/zh/next"]                              # 您是下一位
            return ["queue/zh/ahead", *self.render(lang, "number", ahead, measure=True), "queue/zh/wei"]
        if lang == "en-US":
            return ["queue/en/number", *self.render(lang, "number", position), "queue/en/in_line"]
        raise LookupError(f"queue position: no phrase for language {lang!r} (zh-CN, en-US)")

    def wait_names(self, minutes: int, lang: str) -> list[str]:
        if minutes < 1:
            raise ValueError(f"estimated wait {minutes!r}: whole minutes, at least 1")
        if lang == "zh-CN":                                            # 预计等待时间约两分钟
            return ["queue/zh/wait", *self.render(lang, "number", minutes, measure=True), "queue/zh/minutes"]
        if lang == "en-US":
            return ["queue/en/wait", *self.render(lang, "number", minutes),
                    "queue/en/minute" if minutes == 1 else "queue/en/minutes"]
        raise LookupError(f"estimated wait: no phrase for language {lang!r} (zh-CN, en-US)")

    def position(self, queue, position: int, lang: str) -> list[str]:
        return self._paths(queue, self.position_names(position, lang), lang)

    def wait(self, queue, minutes: int, lang: str) -> list[str]:
        return self._paths(queue, self.wait_names(minutes, lang), lang)

    def _paths(self, queue, names: list[str], lang: str) -> list[str]:
        missing = [n for n in names if not self.catalog.has(n, lang)]
        if missing:
            raise LookupError(f"queue {queue.name!r} announce-position: prompts missing from the catalog "
                              f"in {lang}: {', '.join(missing)}; add them to sounds/catalog.yaml")
        return [str(self.catalog.path(n, lang)) for n in names]
