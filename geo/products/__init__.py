"""Scheduled products: the periods of weekly and monthly products in a time zone, the
schedules and the bulletins' archive (``geo.products.periods``,
``geo.products.archive``), and the alerts raised once per section and period
(``geo.products.alerts``). The worker's jobs (``app.worker``) drive them."""
