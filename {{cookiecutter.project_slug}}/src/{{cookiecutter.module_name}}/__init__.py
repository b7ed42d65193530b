"""The project's pipeline: one module per stage of dvc.yaml, and the models train may use.

- ``stages/``: one module per stage of dvc.yaml, of the same name, each with a ``main()``:
  ``prepare``, ``train``, ``evaluate``, ``copy_evaluation``.
- ``models.py``: the estimators ``train.estimator`` may name; add yours there.

The machinery they share with every such project (data checks, the split, metrics, CI, reports,
publishing, predict, the Dask engine) is the pinned package dvc-ml-kit.
"""
