"""The worker's jobs, in the order a round runs them."""

from __future__ import annotations

from app.webhooks.delivery import deliver_webhooks
from app.worker import Job
from app.worker.retention import purge_events

JOBS: list[Job] = [
    Job("webhooks", deliver_webhooks, on_events=True),
    Job("retention", purge_events),
]
