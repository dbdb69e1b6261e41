"""Outbound campaigns: call a list of contacts, play them a flow, retry per outcome.

    campaign = load_campaign("campaigns/water_outage.yaml")     # CampaignError on problems
    policy.next_state(...)      # pure: attempt outcome -> completed / retry at T / failed
    Pacer(...)                  # pure: when the next call may start
    states = open_states(...)   # contact state shared by workers (SQLite or Redis)
    Dialer(...).run()           # I/O: originate through the inbound ESL client

The core (model, numbers, policy, pacing) reads no clock and does no I/O; the state
stores, contact sources and the dialer are the edges. docs/campaigns.md.
"""
from fsapp.campaign.loader import CampaignError, campaign_files, load_campaign, load_campaigns
from fsapp.campaign.model import Campaign

__all__ = ["Campaign", "CampaignError", "campaign_files", "load_campaign", "load_campaigns"]
