"""Webhooks: subscriptions to the events, delivered by the worker as signed HTTP POSTs.

- :mod:`app.webhooks.signing`: the secret and the ``BorderRisk-Signature`` header
  (HMAC-SHA256 over ``timestamp.body``, as GitHub and Stripe sign theirs);
- :mod:`app.webhooks.targets`: which URLs may be targets (``WEBHOOK_ALLOWED_HOSTS``,
  http/https, no user name, no address of this machine or its networks unless that
  address is allowed) and the one POST to a checked address, no redirect followed;
- :mod:`app.webhooks.store`: the subscriptions and their delivery log in SQL;
- :mod:`app.webhooks.delivery`: the worker's job: claim a due subscription
  (``FOR UPDATE SKIP LOCKED``, then a lease), send its next batch of events as its
  owner sees them now (``geo.events.feed``), record the attempt, retry with
  exponential backoff and jitter, pause after ``WEBHOOK_PAUSE_AFTER_HOURS`` of
  failures and tell the owner.

The API is ``app.api.subscriptions``.
"""

from app.webhooks import models  # noqa: E402,F401  (the tables, on the shared metadata)
