"""Grading specs, one module per exercise id of ``curriculum.toml`` (see ``mlquiz/spec.py``)."""
