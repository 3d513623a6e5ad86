"""Grading: run a learner's file in a sandbox and judge each function against the references.

``engine.grade_file`` is the entry point; ``report`` holds what it returns; ``sandbox`` and
``_child`` run the learner's code in a separate, limited process; ``judge`` draws the cases,
runs the references and compares, in the grading process; ``spec``, ``numeric`` and
``references`` are what the per-exercise specs (``mlquiz.specs``) are written with.
"""
