"""Helpers shared by the routing tests."""
from fsapp.routing.model import AgentConfig, AgentStatus


def add_agents(backend, n, now=0.0, status=AgentStatus.AVAILABLE, **fields):
    names = []
    for i in range(n):
        name = f"{1001 + i}"
        backend.put_agent(AgentConfig(name, contact=f"user/{name}", status=status, **fields), now)
        names.append(name)
    return names
