"""A handler for the `fsapp serve --app` end-to-end test."""
import logging

log = logging.getLogger("fsapp.demo_app")


def handler(call):
    call.answer()
    response = call.playback("tone_stream://%(500,0,800)")
    log.info("played", extra={"response": response})
    call.hangup("NORMAL_CLEARING")
