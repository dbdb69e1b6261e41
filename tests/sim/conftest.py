import struct
import wave

import pytest

from fsapp.sim import Switch

from .eslclient import Conn, OutboundServer


@pytest.fixture
def switch():
    sw = Switch(password="ClueCon", esl=("127.0.0.1", 0), heartbeat=20.0).start()
    yield sw
    sw.stop()


@pytest.fixture
def outbound():
    srv = OutboundServer()
    yield srv
    srv.stop()


@pytest.fixture
def inbound(switch):
    c = Conn.connect(switch.esl_port)
    assert c.next().content_type == "auth/request"
    assert c.cmd("auth ClueCon").h["Reply-Text"] == "+OK accepted"
    yield c
    c.close()


@pytest.fixture
def prompt_wav(tmp_path):
    """A real 0.4 s, 8 kHz mono 16-bit WAV (a prompt called main_menu.wav)."""
    path = tmp_path / "main_menu.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(struct.pack("<h", 1000) * 3200)
    return str(path)
