"""Wiring: fsapp's packages put together into something that runs, outside the packages
themselves (the flow language stays free of setup code).

- services: the services a flow uses (store, prompt catalog, calendars, router, say
  renderer, TTS) built from the configuration; `flow_handler` and `make_handler` (what
  `fsapp serve --flows` runs) hand them to the flow handler;
- emulated: EmulatedLine, the emulated FreeSWITCH (fsapp.sim) whose dialplan sends
  numbers to an fsapp outbound socket server (fsapp.esl) running a flow handler
  (fsapp.flow), over real TCP as in production; shared by `fsapp simulate`, `make demo`
  and the end-to-end tests;
- simulate: `fsapp simulate`, one call through a flow with a caller answering its
  questions as they are asked.
"""
from fsapp.app.emulated import EmulatedLine

__all__ = ["EmulatedLine"]
