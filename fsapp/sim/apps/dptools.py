"""Dialplan applications of mod_dptools, run in the channel's greenlet.

Each app takes (channel, arg). Results go where FreeSWITCH puts them: channel
variables, and current_application_response (which becomes Application-Response of
CHANNEL_EXECUTE_COMPLETE, '_none_' when unset).
"""
from __future__ import annotations

import logging
import math
import re
import shlex

from .. import media
from ..channel import FRAME_S, Channel
from ..registry import application

log = logging.getLogger("fsapp.sim")

SAY_SECONDS = 0.5  # playback of say:<text> (mod_tts, no engine here): a short fixed duration stands in


def _split(arg: str) -> list[str]:
    try:
        return shlex.split(arg, posix=True) if ("'" in arg or '"' in arg) else arg.split()
    except ValueError:
        return arg.split()


def _terminators(ch: Channel) -> str:
    """mod_dptools' on_dtmf (playback and record): `playback_terminators`, `*` when unset,
    `any` is every key, `none` no key (record_with_audio: `#` ends a recording only after
    `set playback_terminators=#`)."""
    t = ch.get_var("playback_terminators", "*")
    if t.lower() == "any":
        return "0123456789*#"
    return "" if t.lower() == "none" else t


def _playback_headers(path: str) -> list[tuple[str, str]]:
    """switch_ivr_play_file names the stream type of tone_stream/local_stream paths only
    (capture pagd_invalid_then_valid; plain files and file_string carry just the path)."""
    kind = path.split(":", 1)[0].lower() if ":" in path else ""
    typed = [("Playback-File-Type", kind)] if kind in ("tone_stream", "local_stream") else []
    return typed + [("Playback-File-Path", path)]


def play_one(ch: Channel, path: str, dtmf: str = "consume", terminators: str | None = None,
             set_vars: bool = True, seconds: float | None = None):
    """Play one file (`seconds` long when given: a say module's file_string); returns
    (status, digit). status: played, notfound, hangup, break, terminator, dtmf."""
    if seconds is not None:
        pass
    elif path.startswith("say:"):
        seconds = SAY_SECONDS
    else:
        seconds = media.media_seconds(path, ch.get_var("sound_prefix") or ch.services.sound_prefix)
    far = ch.far
    listener = far.caller if far is not None else None
    if seconds is None:
        log.info("sim: playback of missing file %s on %s", path, ch.uuid)
        if listener is not None:
            listener.on_prompt_missing(path)
        return "notfound", ""
    if listener is not None:
        listener.on_prompt_start(path, seconds)
    ch.fire("PLAYBACK_START", post=_playback_headers(path))
    sending = _sends_audio(path)
    if sending is not None:
        ch.outgoing_voice().begin(sending)
    t0 = ch.clock.now()
    reason, digit = ch.wait_media(seconds, dtmf=dtmf,
                                  terminators=_terminators(ch) if terminators is None else terminators)
    if sending is not None:
        ch.outgoing_voice().end()
    played = min(seconds, max(0.0, ch.clock.now() - t0)) if seconds != math.inf else ch.clock.now() - t0
    samples = int(played * media.RATE)
    if set_vars:
        ch.set_var("playback_last_offset_pos", str(samples))
        ch.set_var("playback_seconds", str(int(played)))
        ch.set_var("playback_ms", str(int(played * 1000)))
        ch.set_var("playback_samples", str(samples))
    ch.fire("PLAYBACK_STOP", post=_playback_headers(path) + [
        ("Playback-Status", "done" if reason == "done" else "break")])
    if listener is not None:
        listener.on_prompt_end(path, reason)
    return {"done": "played"}.get(reason, reason), digit


def _sends_audio(path: str) -> bool | None:
    """What playing `path` sends to the far leg: voice (True), silent frames (False), or
    nothing (None: `say` without sound files plays nothing)."""
    if path.startswith("say:"):
        return None
    return not path.startswith("silence_stream://")


def _files(arg: str) -> list[str]:
    arg = arg.strip()
    if arg.startswith("file_string://"):
        return [p for p in arg[len("file_string://"):].split("!") if p]
    return [arg] if arg else []


@application("playback")
def app_playback(ch: Channel, arg: str) -> None:
    status = "played"
    for path in _files(arg):
        status, digit = play_one(ch, path)
        if digit:
            ch.set_var("playback_terminator_used", digit)
        if status != "played":
            break
    ch.set_var("current_application_response", {
        "played": "FILE PLAYED", "break": "FILE PLAYED", "terminator": "FILE PLAYED",
        "notfound": "FILE NOT FOUND"}.get(status, "PLAYBACK ERROR"))


@application("answer")
def app_answer(ch: Channel, arg: str) -> None:
    ch.mark_answered()


@application("pre_answer")
def app_pre_answer(ch: Channel, arg: str) -> None:
    ch.mark_pre_answered()


@application("set")
def app_set(ch: Channel, arg: str) -> None:
    # mod_dptools base_set: the name ends at the first '=' (else ','); the value is
    # expanded once more (the channel already expanded the whole argument)
    name, sep, value = arg.partition("=")
    if not sep:
        name, _, value = arg.partition(",")
    if name.strip():
        ch.set_var(name.strip(), ch.expand(value) if value else None)


@application("export")
def app_export(ch: Channel, arg: str) -> None:
    name, _, value = arg.partition("=")
    name = name.strip()
    if name.startswith("nolocal:"):
        name = name[len("nolocal:"):]
    else:
        ch.set_var(name, value)
    exported = [v for v in (ch.get_var("export_vars") or "").split(",") if v]
    if name not in exported:
        exported.append(name)
    ch.set_var("export_vars", ",".join(exported))


@application("unset")
def app_unset(ch: Channel, arg: str) -> None:
    ch.set_var(arg.strip(), None)


@application("sleep")
def app_sleep(ch: Channel, arg: str) -> None:
    try:
        ms = int(arg.strip() or "0")
    except ValueError:
        ms = 0
    eat = (ch.get_var("sleep_eat_digits") or "").lower() == "true"
    ch.wait_media(ms / 1000.0, dtmf="consume" if eat else "keep", terminators="")


@application("hangup")
def app_hangup(ch: Channel, arg: str) -> None:
    ch.hangup(arg.strip() or "NORMAL_CLEARING")


@application("park")
def app_park(ch: Channel, arg: str) -> None:
    ch.park_loop()


@application("echo")
def app_echo(ch: Channel, arg: str) -> None:
    ch.wait_media(math.inf, dtmf="keep")


@application("log")
def app_log(ch: Channel, arg: str) -> None:
    log.debug("sim log on %s: %s", ch.uuid, arg)


@application("info")
def app_info(ch: Channel, arg: str) -> None:
    return None


def _collect(ch: Channel, have: str, max_digits: int, terminators: str, first_timeout: float,
             digit_timeout: float) -> tuple[str, str, str]:
    """switch_ivr_collect_digits_count: returns (digits, terminator, status).
    A terminator already in the buffer (pressed during the prompt) ends the entry at once."""
    for i, d in enumerate(have):
        if d in terminators:
            return have[:i], d, "success"
    digits = have
    timeout = first_timeout if not digits else digit_timeout
    while len(digits) < max_digits:
        if not ch.queue.dtmf:
            reason, _ = ch.wait_media(timeout, dtmf="collect")
            if reason == "hangup":
                return digits, "", "hangup"
            if reason == "break":
                return digits, "", "break"
            if reason == "done":
                return digits, "", "timeout"
        d = ch.take_dtmf()
        if d in terminators:
            return digits, d, "success"
        digits += d
        timeout = digit_timeout
    return digits, "", "success"


def _read(ch: Channel, min_d: int, max_d: int, prompt: str, var: str, timeout_ms: int,
          terminators: str, digit_timeout_ms: int) -> str:
    """switch_ivr_read: prompt with barge-in, then collect. Returns status.

    The digit that stops the prompt is the first of the entry, even a terminator (then
    the entry is empty). The entry ends at max digits, on a terminator or when a
    timeout passes; with digits entered the timeout gives read_result=timeout and the
    variable is still set (capture pagd_timeout_with_digits). Digits beyond max stay
    queued for whoever reads next (capture pagd_terminator_after_full_entry)."""
    max_d = max(max_d, min_d)
    ch.set_var("read_result", None)
    ch.set_var(var, None)   # a read that gets nothing leaves the target unset
    digits, term, status = "", "", "success"
    for path in _files(prompt):
        st, first = play_one(ch, path, dtmf="first")
        if st in ("hangup", "break"):
            status = st
            break
        if first:
            digits = first
            break
    if status == "success" and ((min_d and len(digits) < min_d) or len(digits) < max_d):
        digits, term, status = _collect(ch, digits, max_d, terminators,
                                        (digit_timeout_ms if digits else timeout_ms) / 1000.0,
                                        digit_timeout_ms / 1000.0)
    if term:
        ch.set_var("read_terminator_used", term)
    if min_d and len(digits) < min_d and status in ("success", "timeout"):
        status = "too_small"
    result = {"success": "success", "timeout": "timeout"}.get(status, "failure")
    ch.set_var("read_result", result)
    if max_d == 1 and len(digits) == 1 and digits in terminators:
        digits = ""
    if digits:
        ch.set_var(var, digits)
    ch._last_read_digits = digits
    return status


@application("read")
def app_read(ch: Channel, arg: str) -> None:
    # read <min> <max> <sound file> <variable name> <timeout ms> <terminators> [digit timeout]
    a = _split(arg)
    if len(a) < 6:
        log.info("sim: read needs 6 arguments, got %r", arg)
        return
    min_d, max_d, prompt, var, timeout, terms = int(a[0]), int(a[1]), a[2], a[3], int(a[4]), a[5]
    digit_timeout = int(a[6]) if len(a) > 6 else timeout
    _read(ch, min_d, max_d, prompt, var, timeout, terms, digit_timeout)


@application("play_and_get_digits")
def app_play_and_get_digits(ch: Channel, arg: str) -> None:
    # <min> <max> <tries> <timeout> <terminators> <file> <invalid_file> <var> <regexp> [digit_timeout] [transfer_on_failure]
    a = _split(arg)
    if len(a) < 5:
        log.info("sim: play_and_get_digits needs at least 5 arguments, got %r", arg)
        return
    min_d, max_d, tries, timeout, terms = int(a[0]), int(a[1]), int(a[2]), int(a[3]), a[4]
    prompt = a[5] if len(a) > 5 else ""
    invalid = a[6] if len(a) > 6 else ""
    var = a[7] if len(a) > 7 else "pagd_input"
    regex = a[8] if len(a) > 8 else ""
    digit_timeout = int(a[9]) if len(a) > 9 else timeout
    if terms.lower() == "none":
        terms = ""
    # switch_play_and_get_digits(), step by step.
    if regex and var:
        ch.set_var(f"{var}_invalid", None)
    while tries > 0 and not ch.status.hungup:
        status = _read(ch, min_d, max_d, prompt, var, timeout, terms, digit_timeout)
        digits = ch._last_read_digits
        if status == "timeout" and len(digits) >= min_d:
            status = "success"
        if min_d == 0 and not digits and ch.get_var("read_terminator_used"):
            return
        if not (status == "too_small" and not digits):
            if status == "success" and digits:
                if not regex or re.search(regex, digits):
                    return
                ch.set_var(var, None)
                ch.set_var(f"{var}_invalid", digits)
        if ch.status.hungup:
            break
        if invalid:
            for path in _files(invalid):
                play_one(ch, path, dtmf="keep")
        tries -= 1


# mod_loopback hands a leg's audio to its partner about six 20 ms frames late, while DTMF
# goes across at once (record_with_audio: a key pressed 1.52 s into a tone that started
# with the recording leaves 1.40 s in the file; a 3 s tone ended on silence 6.12 s in).
LOOPBACK_MEDIA_DELAY_S = 0.12


@application("record")
def app_record(ch: Channel, arg: str) -> None:
    # record <path> [<time_limit_secs>] [<silence_thresh>] [<silence_hits>]
    a = _split(arg)
    if not a:
        return
    path = a[0]
    limit = int(a[1]) if len(a) > 1 and a[1].lstrip("-").isdigit() else 0
    thresh = int(a[2]) if len(a) > 2 and a[2].isdigit() else 0
    hits = int(a[3]) if len(a) > 3 and a[3].isdigit() else (3 if thresh else 0)
    if not ch.is_answered:
        ch.mark_answered()   # record answers the channel first, like FreeSWITCH
    # What the far leg sends (a scripted caller's voice, or what it plays), heard late.
    voice = ch.far.outgoing_voice() if ch.far is not None else None
    delay = LOOPBACK_MEDIA_DELAY_S
    ch.fire("RECORD_START", post=[("Record-File-Path", path)])
    if voice is not None:
        voice.watchers.add(ch)
    start = ch.clock.now()
    exhausted, key = False, ""
    try:
        while True:
            now = ch.clock.now()
            heard = now - delay          # the far leg's audio that has arrived by now
            deadlines = []
            if limit > 0:
                if now >= start + limit - 1e-6:
                    break
                deadlines.append(start + limit)
            if thresh > 0 and hits > 0:
                voiced_until = voice.voiced_until(heard) if voice is not None else None
                if voiced_until is None:
                    since = voice.silence_since(start - delay, heard) if voice is not None else start - delay
                    if heard >= since + hits - 1e-6:
                        exhausted = True
                        break
                    deadlines.append(since + hits + delay)
                elif voiced_until != math.inf:
                    deadlines.append(voiced_until + delay)   # re-check when it falls silent
            wait = (min(deadlines) - now) if deadlines else math.inf
            reason, digit = ch.wait_media(max(0.0, wait), dtmf="consume", terminators=_terminators(ch),
                                          wake_returns=True)
            if reason == "terminator":
                key = digit
                break
            if reason in ("hangup", "break"):
                break
    finally:
        if voice is not None:
            voice.watchers.discard(ch)
    end = min(ch.clock.now(), start + limit) if limit > 0 else ch.clock.now()
    segments = voice.segments(start - delay, end - delay, FRAME_S) if voice is not None else []
    samples = media.write_wav(path, segments)
    size = 44 + 2 * samples
    if thresh > 0 and hits > 0:
        ch.set_var("silence_hits_exhausted", "true" if exhausted else "false")
    if key:
        ch.set_var("playback_terminator_used", key)
    ch.set_var("record_record_file_size", str(size))
    ch.set_var("record_file_size", str(size))
    ch.set_var("record_seconds", str(samples // media.RATE))
    ch.set_var("record_ms", str(samples * 1000 // media.RATE))
    ch.set_var("record_samples", str(samples))
    ch.set_var("read_codec", "L16")   # record restores the read codec: the pair moves to the end
    ch.set_var("read_rate", "8000")
    cause = "success-silence" if exhausted else "success-maxtime"
    ch.fire("RECORD_STOP", post=[("Record-File-Path", path), ("Record-Completion-Cause", cause)])
    if ch.far is not None and ch.far.caller is not None:
        ch.far.caller.on_recording(path, samples / media.RATE)


@application("send_dtmf")
def app_send_dtmf(ch: Channel, arg: str) -> None:
    # send_dtmf <digits>[@<tone duration ms>]: the far end (the caller) receives them.
    digits, _, dur = arg.strip().partition("@")
    per_digit = (int(dur) if dur.isdigit() else 100) / 1000.0
    ch.wait_media(per_digit * len(digits), dtmf="keep")
    if ch.far is not None and ch.far.caller is not None and not ch.status.hungup:
        ch.far.caller.on_dtmf_sent(digits)


@application("transfer")
def app_transfer(ch: Channel, arg: str) -> None:
    a = _split(arg)
    if not a:
        return
    ext = a[0]
    ctx = a[2] if len(a) > 2 else ch.profile.context
    ch.run.transfer_to = (ext, ctx)
    ch.profile.times["Channel-Transfer-Time"] = ch.now_us()
    ch.queue.wake.set()

