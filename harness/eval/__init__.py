"""Evaluation: suites of items, rubrics of criteria, scorers, the generation cache and the run document.

``suite × model → run``: :func:`harness.eval.evaluate.evaluate_suite` generates (through a
:class:`~harness.models.base.Generator`), scores every item with the rubric's scorers and returns a
:class:`~harness.eval.run.Run` (``harness.run/v1``).
"""
