"""The pipeline's code: one module per stage of dvc.yaml, each with a ``main()``.

``prepare`` checks and splits the raw CSV, ``train`` fits the model, ``evaluate`` scores it and
``metrics`` copies the scores into Git; ``stage`` holds what they share. ``report``, ``gate`` and
``ci`` are the pull request and publish jobs, ``bundle`` and ``predict`` the published model.
"""
