"""ACD routing: queues, agents, tiers, strategies, overflow; memory and Redis state.

    from fsapp.routing import Router, load_routing, make_backend
    router = Router.from_config(cfg, esl=InboundClient.from_config(cfg).start()).start()
    outcome = router.enqueue(call, "hotline", priority=1)   # outcome.kind, outcome.target

Layers (docs/routing.md): model (nouns) -> strategies and policy (pure functions) ->
backend (StateBackend: MemoryBackend, RedisBackend with Lua claims) -> claims (one
member's claims, released in one place) -> dispatcher (event-driven matching) -> router
(ESL I/O), outage (RoutingUnavailable, reconnect back-off) and reconciler (repairs).
"""
from fsapp.routing.backend import MemoryBackend, StateBackend, UnknownAgent, make_backend
from fsapp.routing.config import RoutingConfig, load_routing, loads_routing, seed_backend
from fsapp.routing.dispatcher import Assignment, Dispatcher
from fsapp.routing.model import (AgentConfig, AgentRecord, AgentState, AgentStatus, Member, MemberState,
                                 OfferResult, OverflowRule, Queue, Tier)
from fsapp.routing.policy import QueueSnapshot, estimate_wait, overflow_decision
from fsapp.routing.outage import RoutingUnavailable
from fsapp.routing.router import Outcome, Router
from fsapp.routing.strategies import STRATEGIES, Candidate, order_agents, order_members
from fsapp.routing.supervisor import NotOnCall, Supervision, Supervisor
from fsapp.routing.announce import AgentIdPrompts, QueuePrompts

__all__ = ["AgentIdPrompts", "QueuePrompts", "NotOnCall", "Supervision", "Supervisor", "AgentConfig", "AgentRecord", "AgentState", "AgentStatus", "Assignment", "Candidate", "Dispatcher",
           "Member", "MemberState", "MemoryBackend", "OfferResult", "Outcome", "OverflowRule", "Queue",
           "QueueSnapshot", "Router", "RoutingUnavailable", "RoutingConfig", "STRATEGIES", "StateBackend", "Tier", "UnknownAgent",
           "estimate_wait", "load_routing", "loads_routing", "make_backend", "order_agents", "order_members",
           "overflow_decision", "seed_backend"]
