"""The emulator's url_encode fast path ("the value is already safe") gives exactly the
byte loop's output: on every header value of every capture and on arbitrary strings."""
import json
from urllib.parse import unquote

from hypothesis import given, settings, strategies as st

from fsapp.sim import wire


def captured_values(captures_dir):
    for path in sorted(captures_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            raw = json.loads(line)["raw"]
            for header in raw.split("\n"):
                name, sep, value = header.partition(": ")
                if sep:
                    yield unquote(value)    # as FreeSWITCH had it before encoding
                    yield value             # and as it went on the wire (with %XX)

def test_fast_path_on_every_captured_value(captures_dir):
    values = set(captured_values(captures_dir))
    assert len(values) > 1000
    for value in values:
        assert wire.url_encode(value) == wire._url_encode_bytes(value), value

@settings(max_examples=2000, deadline=None)
@given(st.text() | st.text(alphabet="%0123456789ABCDEFabcdef:/ -_.!~*'()#"))
def test_fast_path_on_any_string(value):
    assert wire.url_encode(value) == wire._url_encode_bytes(value)
