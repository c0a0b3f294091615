"""Events: every change, in the CloudEvents 1.0 envelope, for the change feed, the
webhooks, the inbox and the scheduled products.

The database writes the events of the data layers itself, in the change's transaction
(the outbox: migration ``e7b2c4d9f1a0``); :func:`geo.events.outbox.emit` writes the
application's own (alerts, level decisions, stored assessments, bulletins). Who may
see an event follows the API's rules (``geo.scope``) over the record's state before
and after the change (:mod:`geo.events.feed`).
"""
