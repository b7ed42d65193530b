"""dvc-ml-kit: the machinery every DVC machine-learning project shares.

- ``pipeline``: the core of each stage (``prepare``, ``train``, ``evaluate``,
  ``copy_evaluation``), called by a project's own stage modules with its settings, features and
  models.
- ``ci``: the pull request check, its report and quality gates, the report comment, publishing.
- ``model``: the model's first step (raw columns to model inputs), the published bundle and
  ``predict``.
- ``cluster``: the Dask engine (the ``dask`` extra).
- ``params``, ``errors``, ``contract``: reading params.yaml, one-sentence user errors, and the
  metrics and plot files evaluate writes.

The command line (``dvc-ml-kit --help``) runs the CI jobs and ``predict``.
"""

from importlib.metadata import PackageNotFoundError, version

from .errors import UserError, run
from .params import load_params

try:
    __version__ = version("dvc-ml-kit")
except PackageNotFoundError:  # imported from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["UserError", "__version__", "load_params", "run"]
