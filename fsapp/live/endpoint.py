"""The HTTP edge: GET /metrics in Prometheus' text format, on gevent's WSGI server.

    server = serve_metrics(metrics, "127.0.0.1:9464", token="s3cret")   # started
    server.stop()

It answers for this process, or, with PROMETHEUS_MULTIPROC_DIR set, for every worker
writing to that directory. With a token, a scrape must send `Authorization: Bearer
TOKEN` (Prometheus: `authorization: {credentials: ...}`); anything else gets 401.
"""
from __future__ import annotations

import hmac

from gevent.pywsgi import WSGIServer
from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client import multiprocess

from fsapp.live.metrics import Metrics, multiprocess_dir


def parse_address(text: str, what: str = "[metrics] listen") -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{what}: expected HOST:PORT (e.g. 127.0.0.1:9464), got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def metrics_app(metrics: Metrics, token: str | None = None):
    registry = metrics.registry
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    export = make_wsgi_app(registry)

    def app(environ, start_response):
        if environ.get("PATH_INFO", "/") not in ("/metrics", "/"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"only /metrics here\n"]
        if token and not authorized(environ.get("HTTP_AUTHORIZATION", ""), token):
            start_response("401 Unauthorized", [("Content-Type", "text/plain"),
                                                ("WWW-Authenticate", 'Bearer realm="fsapp"')])
            return [b"token required\n"]
        return export(environ, start_response)
    return app


def authorized(header: str, token: str) -> bool:
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def serve_metrics(metrics: Metrics, listen: str, token: str | None = None) -> WSGIServer:
    server = WSGIServer(parse_address(listen), metrics_app(metrics, token), log=None)
    server.start()
    return server
