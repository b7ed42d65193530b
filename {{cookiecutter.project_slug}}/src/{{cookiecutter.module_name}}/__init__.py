"""The pipeline's code: one module per stage of dvc.yaml, each with a ``main()``.

``prepare`` checks and splits the raw CSV, ``train`` fits the model, ``evaluate`` scores it;
``stage`` holds what they share.
"""
