"""``python -m dvc_ml_kit``: the same as the ``dvc-ml-kit`` command."""

from .cli import main

raise SystemExit(main())
