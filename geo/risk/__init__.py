"""CIRAM risk of border sections: the model and its configuration (``ciram``, default
``risk.yaml`` beside it), assessments from the database and their records
(``assessments``), and the monthly regional bulletin (``bulletin``)."""
