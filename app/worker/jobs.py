"""The worker's jobs, in the order a round runs them."""

from __future__ import annotations

from app.inbox.fanout import fan_out
from app.inbox.mail import send_mail
from app.webhooks.delivery import deliver_webhooks
from app.worker import Job
from app.worker.alerts import raise_alerts
from app.worker.retention import purge_events
from app.worker.schedules import run_schedules
from app.worker.warmup import DefaultViewWarmer

# Webhooks first: a round woken by a commit delivers before it re-evaluates alerts
# (commit-to-delivery latency, docs/benchmarks.md).
JOBS: list[Job] = [
    Job("webhooks", deliver_webhooks, on_events=True),
    Job("alerts", raise_alerts, on_events=True),
    # Events to notifications, then the e-mails of those (so one round does both).
    Job("inbox", fan_out),
    Job("mail", send_mail),
    Job("schedules", run_schedules),
    Job("retention", purge_events),
    # After a data change, the map page's default analyses into the shared results (in
    # a thread of its own: the jobs above are not held up).
    Job("warm-up", DefaultViewWarmer(), on_events=True),
]
