"""The hostile strings of issue 10, tried through every path that forwards caller data
(tests/esl/test_esl_syntax.py, tests/test_hostile_caller_data.py)."""

REPORTED = "1}loopback/9999/default &bridge(sofia/gateway/pstn/0090012345) x{a=b"

HOSTILE = [
    REPORTED,
    "%00", "a\0b", "a\r\nEvent-Name: HEARTBEAT", "\r\n\r\napi hupall", "x" * 10_000,
    "张伟", "\u202eevil\u202c", "😀📞", "'; DROP TABLE fsapp_call_records; --",
    "${system(rm -rf /)}", "${system rm -rf /}", "$${x}", "|", ":_:", "^^:", ",", "'", "\\", "[", "]",
    "<", ">", "{", "}", "a b", " lead", "trail ", "\\n", "\\s", "\\'", "$$x", "\\$", "=", "a=b,c=d",
    "O'Brien, J", "\\\\", "'''", "%[a=b]x", "+8613800138000", "13800138000",
]
