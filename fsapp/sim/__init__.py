"""fsapp.sim: an emulated FreeSWITCH 1.10 on real TCP (see docs/emulator.md).

    from fsapp.sim import Switch, CallerScript, Press, WaitPrompt, Speak, Silence, Hangup, Socket
    sw = Switch(password="ClueCon", esl=("127.0.0.1", 0)).start()
    sw.dialplan.add(r"^12345$", Socket("127.0.0.1:%d async full" % port))
    report = sw.place_call(CallerScript(dial="12345", steps=[WaitPrompt("menu"), Press("1")])).wait(30)
"""
from .agents import AgentEndpoint
from .caller import (CallerScript, CallReport, Hangup, Press, Silence, Speak, Wait, WaitPrompt)
from .clock import RealClock, VirtualClock
from .dialplan import Agent, Apps, Echo, Park, Socket
from .switch import Switch

__all__ = ["Switch", "CallerScript", "CallReport", "Press", "WaitPrompt", "Speak", "Silence", "Wait",
           "Hangup", "Socket", "Park", "Echo", "Agent", "Apps", "AgentEndpoint", "RealClock", "VirtualClock"]
