"""The worker's jobs, in the order a round runs them."""

from __future__ import annotations

from app.inbox.fanout import fan_out
from app.inbox.mail import send_mail
from app.worker import Job
from app.worker.alerts import raise_alerts
from app.worker.retention import purge_events
from app.worker.schedules import run_schedules

JOBS: list[Job] = [
    Job("alerts", raise_alerts, on_events=True),
    Job("schedules", run_schedules),
    Job("retention", purge_events),
    # Events to notifications, then the e-mails of those (so one round does both).
    Job("inbox", fan_out),
    Job("mail", send_mail),
]
