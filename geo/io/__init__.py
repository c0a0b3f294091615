"""Files in and out: what an analyst's file must be (``file_checks``), the readers of
each format (``readers``), column-wise validation (``validation``), the one write
pipeline (``ingest``), exports (``export``) and background import jobs
(``import_jobs``)."""
