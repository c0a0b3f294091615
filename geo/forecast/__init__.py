"""Forecasts of incident counts per hexagon cell or border section (issue 18): the
count model (``model``), its periods (``periods``), the locations and incidents it reads
(``inputs``), rolling-origin backtests against baselines (``backtest``), the answers
(``service``) and a synthetic self-exciting generator for tests (``synthetic``)."""
