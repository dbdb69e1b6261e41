"""Metrics wired into `fsapp serve`: what the CLI calls.

    live = ServeMetrics.from_config(cfg)            # None when [metrics] listen is empty
    handler = make_handler(dir, cfg, tracers=live.tracers)   # fsapp.app.services
    live.start(handler)                             # sampler + /metrics endpoint
    live.stop()
"""
from __future__ import annotations

import os

from fsapp.esl import connection
from fsapp.live.endpoint import parse_address, serve_metrics
from fsapp.live.feeds import FlowFeed, command_label
from fsapp.live.metrics import Metrics, multiprocess_dir
from fsapp.live.sampler import Sampler


class ServeMetrics:
    def __init__(self, listen: str, token: str | None = None, sample_interval: float = 5.0,
                 metrics: Metrics | None = None):
        parse_address(listen)          # a typo fails at start, naming the setting
        self.listen, self.token, self.sample_interval = listen, token, sample_interval
        self.metrics = metrics or Metrics()
        self.tracers = (FlowFeed(self.metrics),)
        self.sampler: Sampler | None = None
        self.server = None

    @classmethod
    def from_config(cls, cfg, listen: str | None = None) -> "ServeMetrics | None":
        section = cfg.section("metrics")
        listen = listen or section["listen"]
        if not listen:
            return None
        return cls(listen, section["token"], section["sample_interval"])

    def _round_trip(self, first_line: str, seconds: float) -> None:
        self.metrics.fsapp_esl_command_seconds.labels(command_label(first_line)).observe(seconds)

    def start(self, handler=None) -> "ServeMetrics":
        connection.ROUND_TRIP_OBSERVERS.append(self._round_trip)
        if handler is not None:
            self.sampler = Sampler(self.metrics, handler).start(self.sample_interval)
        self.server = serve_metrics(self.metrics, self.listen, self.token)
        return self

    @property
    def address(self) -> tuple[str, int]:
        return self.server.address

    def stop(self) -> None:
        if self._round_trip in connection.ROUND_TRIP_OBSERVERS:
            connection.ROUND_TRIP_OBSERVERS.remove(self._round_trip)
        if self.sampler is not None:
            self.sampler.stop()
        if self.server is not None:
            self.server.stop(timeout=1)
        if multiprocess_dir():         # this worker's live gauges leave the sums
            from prometheus_client import multiprocess
            multiprocess.mark_process_dead(os.getpid())
