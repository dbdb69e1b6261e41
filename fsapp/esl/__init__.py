"""FreeSWITCH Event Socket runtime: pure wire parser (wire), the outbound server and
Call API (outbound, call), the inbound client (inbound). See docs/api.md, docs/esl.md."""
from fsapp.esl.call import BridgeResult, Call, RecordResult
from fsapp.esl.errors import (AuthError, CallHangup, CommandError, CommandTimeout, ConnectionLost,
                              ESLError, NotConnected, OriginateError)
from fsapp.esl.inbound import InboundClient
from fsapp.esl.outbound import OutboundServer

__all__ = ["AuthError", "BridgeResult", "Call", "CallHangup", "CommandError", "CommandTimeout",
           "ConnectionLost", "ESLError", "InboundClient", "NotConnected", "OriginateError",
           "OutboundServer", "RecordResult"]
