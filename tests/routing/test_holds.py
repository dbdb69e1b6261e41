"""Hold time of a talk from CHANNEL_HOLD / CHANNEL_UNHOLD (fsapp.routing.holds), by hand."""
from fsapp.routing.holds import HoldTimes, Talk


def test_a_talk_is_on_hold_while_either_leg_is():
    talk = Talk(("agent", "caller"))
    talk.mark("agent", True, 10.0)        # the agent holds at 10 s
    talk.mark("caller", True, 20.0)       # the caller's phone holds too at 20 s (counted once)
    talk.mark("agent", False, 25.0)       # still held by the caller
    talk.mark("caller", False, 30.0)      # 10 .. 30: 20 s
    talk.mark("agent", False, 31.0)       # an UNHOLD without a HOLD changes nothing
    talk.mark("agent", True, 40.0)        # held again, still at the end
    assert talk.seconds(45.0) == 25.0     # 20 + 5 open


def test_hold_times_follow_the_events_of_watched_legs_only():
    now = [100.0]
    holds = HoldTimes(lambda: now[0])
    talk = holds.watch("a1", "c1")
    other = holds.watch("a2", "c2")
    holds.on_event({"Event-Name": "CHANNEL_HOLD", "Unique-ID": "a1"})
    holds.on_event({"Event-Name": "CHANNEL_HOLD", "Unique-ID": "somebody-else"})
    now[0] = 112.5
    holds.on_event({"Event-Name": "CHANNEL_UNHOLD", "Unique-ID": "a1"})
    holds.on_event({"Event-Name": "CHANNEL_HOLD", "Unique-ID": "c2"})
    now[0] = 120.0
    assert holds.done(talk) == 12.5
    assert holds.done(other) == 7.5       # still on hold when the talk ended: up to the end
    holds.on_event({"Event-Name": "CHANNEL_HOLD", "Unique-ID": "a1"})    # after the talk: ignored
    assert talk.seconds(200.0) == 12.5
    # the switch's own timestamp, when the event has one (late delivery changes nothing)
    stamped = holds.watch("a3")
    holds.on_event({"Event-Name": "CHANNEL_HOLD", "Unique-ID": "a3", "Event-Date-Timestamp": "110000000"})
    holds.on_event({"Event-Name": "CHANNEL_UNHOLD", "Unique-ID": "a3", "Event-Date-Timestamp": "114250000"})
    assert holds.done(stamped) == 4.25


def test_a_transfer_from_the_agents_phone_is_read_from_its_hangup():
    from fsapp.routing.transfers import phone_transfer
    blind = {"variable_endpoint_disposition": "BLIND_TRANSFER", "variable_sip_refer_to": "<sip:2000@10.0.0.5>"}
    assert phone_transfer(blind) == "blind:2000"
    assert phone_transfer({"variable_endpoint_disposition": "ATTENDED_TRANSFER"}) == "attended"
    assert phone_transfer({"variable_endpoint_disposition": "ANSWER"}) is None
    assert phone_transfer({}) is None
    hostile = {"variable_endpoint_disposition": "BLIND_TRANSFER",
               "variable_sip_refer_to": "<sip:20'00;DROP TABLE x@h>"}
    assert phone_transfer(hostile) == "blind:2000"          # only dial-string characters kept


def test_an_att_xfer_is_read_from_the_agent_legs_hangup_in_the_consultation():
    from fsapp.routing.transfers import phone_transfer
    done = {"variable_current_application": "att_xfer", "variable_current_application_data": "{a=b}user/1003",
            "variable_soft_holding_uuid": "caller", "variable_last_bridge_to": "colleague"}
    assert phone_transfer(done) == "attended:1003"
    via_gateway = {**done, "variable_current_application_data": "sofia/gateway/pstn/95598@x;y"}
    assert phone_transfer(via_gateway) == "attended:95598"
    # back with the caller (# or the colleague hung up): att_xfer cleared soft_holding_uuid
    assert phone_transfer({**done, "variable_soft_holding_uuid": ""}) is None
    # hung up while the colleague's phone still rang: last bridged to the caller
    assert phone_transfer({**done, "variable_last_bridge_to": "caller"}) is None
    assert phone_transfer({**done, "variable_current_application": "bridge"}) is None
    hostile = {**done, "variable_current_application_data": "user/10'03;DROP TABLE x"}
    assert phone_transfer(hostile) == "attended:1003DROPTABLEx"   # dial-string characters only
