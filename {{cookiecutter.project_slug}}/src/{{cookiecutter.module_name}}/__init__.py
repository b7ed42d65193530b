"""The project's pipeline, its CI jobs and its published model.

- ``stages/``: the pipeline, one module per stage of dvc.yaml, of the same name, each with a
  ``main()``: ``prepare``, ``train``, ``evaluate``, ``copy_evaluation``.
- ``ci/``: the pull request check (``make ci-pr``), its report and quality gates, and publishing
  (``make ci-publish``).
- ``model/``: the published model: its first step (``features``: raw columns to model inputs),
  its bundle and model card, and ``predict`` for new rows.
- ``contract.py``: the metrics and plot data evaluate writes; ``params.py``, ``errors.py``: reading
  params.yaml and reporting user errors, for all of the above.
"""
