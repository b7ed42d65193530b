"""The project's pipeline: one module per stage of dvc.yaml, its features and its models.

- ``features.py``: the columns the model computes from raw columns (its first step).
- ``models.py``: the estimators ``train.estimator`` may name; add yours there.
- ``stages/``: one module per stage of dvc.yaml, of the same name, each with a ``main()``:
  ``prepare``, ``train``, ``evaluate``, ``copy_evaluation``.

The machinery they share with every such project (data checks, the split, metrics, CI, reports,
publishing, predict, the Dask engine) is the pinned package dvc-ml-kit.
"""
