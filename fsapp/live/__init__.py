"""Live operations: what the running service shows while it runs.

    metrics.py   the Prometheus metrics: one table (name, type, labels, meaning) that
                 builds the metric objects, docs/metrics.md and the dashboard test read
    agents.py    pure: an agent record -> the board's state (available, on_call, ...)
    feeds.py     pure-ish listeners: flow trace events and routing events -> metrics
    sampler.py   the I/O edge: a greenlet that reads shared state (backend, store,
                 ESL clients, Redis) every few seconds and sets the gauges
    endpoint.py  the HTTP edge: /metrics on gevent's WSGI server, optional token

Nothing here is imported by the flow, routing, store or esl packages: `fsapp serve`
wires it in (fsapp/cli/serve.py), so the call path does not depend on it.
"""
