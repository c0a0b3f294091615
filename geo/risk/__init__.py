"""CIRAM risk of border sections: the model's configuration (``risk_config``, default
``risk.yaml`` beside it), the model (``ciram``), assessments from the database and their
records (``assessments``), and the monthly regional bulletin (``bulletin``)."""
