"""{{ cookiecutter.project_name }}: a DVC pipeline from raw CSV to a scikit-learn model.

Each pipeline stage in dvc.yaml is one module here with a ``main()``:
``prepare``, ``train`` and ``evaluate``.
"""
