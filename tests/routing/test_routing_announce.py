"""Position and estimated-wait announcements in the caller's language (announce-position).

End to end on the emulated switch: three callers wait in one queue, a Mandarin one
first, then an English one, then another Mandarin one, each with the language its flow
would pass (`enqueue(lang=...)`). Each hears, every announce-frequency seconds, its place
and the estimated wait in whole minutes, from the prompt catalog (sounds/catalog.yaml)
and the say engine: what the emulator played to each caller is asserted file by file.
Before, the Mandarin caller heard FreeSWITCH's English `say` of bare numbers."""
import shutil
import time
from pathlib import Path

import gevent
import pytest

from fsapp.esl import InboundClient, OutboundServer
from fsapp.routing.announce import QueuePrompts
from fsapp.routing.config import loads_routing, seed_backend
from fsapp.routing.hold import wait_minutes
from fsapp.routing.model import Queue
from fsapp.routing.router import Router
from fsapp.say import render
from fsapp.sim import CallerScript, Hangup, Socket, Switch, Wait
from fsapp.sim.media import write_wav
from fsapp.sounds import Catalog

REPO_CATALOG = Path(__file__).resolve().parents[2] / "sounds" / "catalog.yaml"
HANG_GUARD_S = 120
MOH = "tone_stream://%(1000,0,440);loops=-1"
ANNOUNCE = "silence_stream://100"


@pytest.fixture
def catalog(tmp_path):
    """The project's own catalog, its queue and say prompts rendered as short wav files
    in tmp (the emulator plays real files; espeak rendering is `fsapp sounds build`'s)."""
    shutil.copy(REPO_CATALOG, tmp_path / "catalog.yaml")
    cat = Catalog.load(tmp_path / "catalog.yaml")
    for name in cat.names():
        if name.startswith(("queue/", "say/")):
            for lang in cat.languages_of(name):
                path = cat.path(name, lang)
                path.parent.mkdir(parents=True, exist_ok=True)
                write_wav(str(path), [(0.05, True)])
    return cat


def test_the_phrases_of_both_languages(catalog):
    prompts = QueuePrompts(catalog, render)
    assert prompts.position_names(1, "zh-CN") == ["queue/zh/next"]                       # 您是下一位
    assert prompts.position_names(3, "zh-CN") == ["queue/zh/ahead", "say/zh/liang", "queue/zh/wei"]  # 前面还有两位
    assert prompts.position_names(4, "zh-CN") == ["queue/zh/ahead", "say/zh/3", "queue/zh/wei"]      # 三位
    assert prompts.position_names(3, "en-US") == ["queue/en/number", "say/en/3", "queue/en/in_line"]
    assert prompts.wait_names(2, "zh-CN") == ["queue/zh/wait", "say/zh/liang", "queue/zh/minutes"]   # 两分钟
    assert prompts.wait_names(12, "zh-CN") == ["queue/zh/wait", "say/zh/shi", "say/zh/2", "queue/zh/minutes"]
    assert prompts.wait_names(1, "en-US") == ["queue/en/wait", "say/en/1", "queue/en/minute"]
    assert prompts.wait_names(3, "en-US") == ["queue/en/wait", "say/en/3", "queue/en/minutes"]
    assert [wait_minutes(s) for s in (0, 29, 31, 89, 91, 150)] == [1, 1, 1, 1, 2, 3]   # whole minutes, at least one
    with pytest.raises(LookupError, match="no phrase for language 'fr-FR'"):
        prompts.position(Queue("q"), 2, "fr-FR")
    # every prompt either language can need is in the catalog, in that language
    for n in range(1, 40):
        for lang in ("zh-CN", "en-US"):
            prompts.position(Queue("q"), n, lang)
            prompts.wait(Queue("q"), n, lang)


CONFIG = f"""
queues:
  wait:
    moh-sound: "{MOH}"
    announce-sound: "{ANNOUNCE}"
    announce-frequency: 1
    announce-position: true
agents:
  "1001": {{contact: user/1001, status: On Break}}
tiers:
  - {{queue: wait, agent: "1001"}}
"""


def test_each_caller_hears_its_place_and_wait_in_its_language(backend, catalog):
    sw = Switch(password="ClueCon", esl=("127.0.0.1", 0)).start()
    cfg = loads_routing(CONFIG, "wait.yaml")
    seed_backend(cfg, backend, time.time() - 100)
    backend.record_handle_time("wait", 60.0)    # one agent logged in (on break), 60 s a call
    esl = InboundClient("127.0.0.1", sw.esl_port, "ClueCon", command_timeout=30.0).start()
    router = Router(cfg, backend, esl, worker_id="w-announce", lease=10.0,
                    queue_prompts=QueuePrompts(catalog, render)).start()
    outcomes = {}

    def handler(call):
        call.answer()
        lang = {"6001": "zh-CN", "6002": "en-US"}[call.destination]     # the flow's `lang`
        outcomes[call.uuid] = router.enqueue(call, "wait", lang=lang)

    server = OutboundServer(handler, ("127.0.0.1", 0), linger=1).start()
    sw.dialplan.add(r"^600[12]$", Socket(f"127.0.0.1:{server.port} async full"))
    try:
        callers = []
        for n, dial in enumerate(["6001", "6002", "6001"], start=1):   # join in this order
            callers.append(sw.place_call(CallerScript(dial=dial, steps=[Wait(8), Hangup()])))
            with gevent.Timeout(HANG_GUARD_S):
                while len(backend.members("wait")) < n:
                    gevent.sleep(0.02)
        reports = [c.wait(HANG_GUARD_S) for c in callers]
        with gevent.Timeout(HANG_GUARD_S):
            while len(outcomes) < 3:
                gevent.sleep(0.05)

        def paths(lang, *names):
            return [str(catalog.path(name, lang)) for name in names]
        expected = [
            # first in line, 1 min: 您是下一位。预计等待时间约一分钟。
            paths("zh-CN", "queue/zh/next", "queue/zh/wait", "say/zh/1", "queue/zh/minutes"),
            # You are number two in line. Your estimated wait is about two minutes.
            paths("en-US", "queue/en/number", "say/en/2", "queue/en/in_line", "queue/en/wait", "say/en/2",
                  "queue/en/minutes"),
            # 您前面还有两位。预计等待时间约三分钟。
            paths("zh-CN", "queue/zh/ahead", "say/zh/liang", "queue/zh/wei", "queue/zh/wait", "say/zh/3",
                  "queue/zh/minutes"),
        ]
        for report, phrase in zip(reports, expected):
            heard = report.heard
            first = heard.index(ANNOUNCE)                     # the first announcement ...
            assert heard[first + 1:first + 1 + len(phrase)] == phrase, heard    # ... then the place and wait
            assert heard.count(ANNOUNCE) >= 2 and heard.count(MOH) >= 2, heard  # music resumes, again
            # nothing else was said: no FreeSWITCH `say` of bare numbers
            assert all(p in (MOH, ANNOUNCE) or p.startswith(str(catalog.base)) for p in heard), heard
        # the Mandarin callers heard no English prompt, the English caller no Mandarin one
        assert not any("/en-US/" in p for r in (reports[0], reports[2]) for p in r.heard)
        assert not any("/zh-CN/" in p for p in reports[1].heard)
    finally:
        router.stop()
        server.stop(timeout=2)
        esl.stop()
        sw.stop()
