"""The pipeline stages of dvc.yaml, one module per stage, each run as ``python -m``."""
