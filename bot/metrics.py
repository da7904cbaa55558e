"""Prometheus metrics for /metrics. Labels carry kinds and verdicts, never user or chat ids."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0)


class BotMetrics:
    """One registry per application, so several bots in one process (tests) do not collide."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.updates = Counter("maskbot_updates_total", "Updates received, by kind", ["kind"], registry=self.registry)
        self.verdicts = Counter(
            "maskbot_verdicts_total",
            "Verdicts given, by label and unsure flag",
            ["label", "unsure"],
            registry=self.registry,
        )
        self.errors = Counter("maskbot_errors_total", "Errors, by kind", ["kind"], registry=self.registry)
        self.inference_seconds = Histogram(
            "maskbot_inference_seconds",
            "Decode, analyse and classify one photo",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.reply_seconds = Histogram(
            "maskbot_reply_seconds",
            "From update received to verdict sent",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.model_info = Gauge(
            "maskbot_model_info", "The model answering now (value 1)", ["version"], registry=self.registry
        )

    def set_model(self, version: str) -> None:
        self.model_info.clear()
        self.model_info.labels(version=version).set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)
