"""The emulator's `ivr` application (fsapp/sim/apps/ivr.py) against menus in conf/ivr_menus/,
as FreeSWITCH 1.10.12's switch_ivr_menu.c runs them (a real switch's run of a deployed
menu is compared with the emulator's in tests/deploy/test_native_fallback.py, captures
fallback_native_ivr_*). VirtualClock: timeouts cost no wall time."""
import wave

import pytest

from fsapp.sim import Apps, CallerScript, Press, Switch, VirtualClock, WaitPrompt


def _wav(path, seconds=0.4):
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * int(8000 * seconds))
    return str(path)


@pytest.fixture
def line(tmp_path):
    """A switch whose conf/ has two menus; 5000 runs `ivr main`, 1000 is an operator."""
    s = {name: _wav(tmp_path / "sounds" / f"{name}.wav") for name in
         ("main", "main_short", "sub", "invalid", "info", "bye", "operator")}
    conf = tmp_path / "conf"
    (conf / "ivr_menus").mkdir(parents=True)
    (conf / "ivr_menus" / "test.xml").write_text(f"""<include>
  <menu name="main" greet-long="{s['main']}" greet-short="{s['main_short']}" invalid-sound="{s['invalid']}"
        timeout="2000" inter-digit-timeout="1000" max-failures="2" max-timeouts="2" digit-len="1"
        exec-on-max-failures="hangup CALL_REJECTED" exec-on-max-timeouts="hangup RECOVERY_ON_TIMER_EXPIRE">
    <entry action="menu-play-sound" digits="1" param="{s['info']}"/>
    <entry action="menu-sub" digits="2" param="sub"/>
    <entry action="menu-exec-app" digits="0" param="transfer 1000 XML default"/>
    <entry action="menu-exit" digits="9"/>
  </menu>
  <menu name="sub" greet-long="{s['sub']}" timeout="2000" max-failures="1">
    <entry action="menu-back" digits="*"/>
    <entry action="menu-top" digits="0"/>
  </menu>
</include>
""", encoding="utf-8")
    sw = Switch(esl=("127.0.0.1", 0), clock=VirtualClock(), conf_dir=conf).start()
    sw.dialplan.add(r"^5000$", Apps([("answer", ""), ("ivr", "main"), ("playback", s["bye"]), ("hangup", "")]))
    sw.dialplan.add(r"^1000$", Apps([("answer", ""), ("playback", s["operator"]), ("hangup", "")]))
    yield sw, conf, s
    sw.stop()


def heard(report):
    return [p.rsplit("/", 1)[-1].removesuffix(".wav") for p in report.heard]


def call(sw, *steps):
    return sw.place_call(CallerScript(dial="5000", steps=list(steps))).wait(60)


def test_keys_play_sound_enter_sub_menu_go_back_and_exit(line):
    sw, _, _ = line
    r = call(sw, WaitPrompt("main", after="start"), Press("1"),      # barge in: info, then greet-short
             WaitPrompt("main_short", after="start"), Press("2"),     # sub-menu
             WaitPrompt("sub", after="start"), Press("*"),            # back: greet-long again
             WaitPrompt("main", after="start"), Press("9"))           # menu-exit: the dialplan goes on
    assert heard(r) == ["main", "info", "main_short", "sub", "main", "bye"]


def test_wrong_keys_play_invalid_then_exec_on_max_failures(line):
    sw, _, _ = line
    r = call(sw, WaitPrompt("main", after="start"), Press("7"),
             WaitPrompt("invalid", after="start"), WaitPrompt("main_short", after="start"), Press("8"))
    assert heard(r) == ["main", "invalid", "main_short", "invalid"]
    assert r.hangup_cause == "CALL_REJECTED"


def test_silence_counts_timeouts_and_runs_exec_on_max_timeouts(line):
    sw, _, _ = line
    r = call(sw)
    assert heard(r) == ["main", "main_short"]    # no invalid-sound after a timeout
    assert r.hangup_cause == "RECOVERY_ON_TIMER_EXPIRE"


def test_transfer_from_a_menu_leaves_the_menus_and_the_extension(line):
    sw, _, _ = line
    r = call(sw, WaitPrompt("main", after="start"), Press("0"))
    assert heard(r) == ["main", "operator"]      # neither "bye" nor the menu again


def test_menu_top_from_a_sub_menu_unwinds_to_the_first_menu(line):
    sw, _, _ = line
    r = call(sw, WaitPrompt("main", after="start"), Press("2"), WaitPrompt("sub", after="start"), Press("0"),
             WaitPrompt("main", after="start"), Press("9"))
    # coming back from a sub-menu replays greet-long (reps = -1 before menu-sub)
    assert heard(r) == ["main", "sub", "main", "bye"]


def test_an_unknown_menu_or_a_bad_entry_returns_at_once(line, tmp_path):
    sw, conf, s = line
    sw.dialplan.add(r"^5001$", Apps([("answer", ""), ("ivr", "nosuch"), ("playback", s["bye"]), ("hangup", "")]))
    r = sw.place_call(CallerScript(dial="5001")).wait(60)
    assert heard(r) == ["bye"]
    (conf / "ivr_menus" / "test.xml").write_text(
        f'<include><menu name="main" greet-long="{s["main"]}"><entry action="menu-jump" digits="1"/></menu></include>')
    assert sw.api.execute("reloadxml", "").startswith("+OK")
    assert heard(call(sw)) == ["bye"]           # "Unable to create menu": nothing played


def test_a_partial_entry_is_taken_when_the_inter_digit_timeout_passes(line):
    """digit-len 2: one key, then nothing for inter-digit-timeout (default: half the
    timeout): the one key is the entry (switch_ivr_collect_digits_count times out with
    digits in the buffer, and they are matched)."""
    sw, conf, s = line
    (conf / "ivr_menus" / "two.xml").write_text(f"""<include>
  <menu name="two" greet-long="{s['main']}" timeout="4000" max-failures="1" digit-len="2">
    <entry action="menu-play-sound" digits="1" param="{s['info']}"/>
    <entry action="menu-exit" digits="12"/>
  </menu>
</include>""", encoding="utf-8")
    assert sw.api.execute("reloadxml", "").startswith("+OK")
    sw.dialplan.add(r"^5002$", Apps([("answer", ""), ("ivr", "two"), ("playback", s["bye"]), ("hangup", "")]))
    r = sw.place_call(CallerScript(dial="5002", steps=[WaitPrompt("main", after="start"), Press("1"),
                                                       WaitPrompt("info", after="start")])).wait(60)
    assert heard(r)[:2] == ["main", "info"]
    r2 = sw.place_call(CallerScript(dial="5002", steps=[WaitPrompt("main", after="start"), Press("12")])).wait(60)
    assert heard(r2) == ["main", "bye"]
