"""pipeline-requirements.txt: the pinned versions of what computes a pipeline's results.

A project's stages list this small file in their ``deps``, so a new version of dvc-ml-kit or of a
library that computes results re-runs them, while a new version of a dev tool (ruff, pytest),
which changes only requirements.txt, re-runs nothing. ``dvc-ml-kit pins`` writes it from the
project's requirements.txt (a ``uv pip compile`` or ``pip-compile`` lock).
"""

import argparse
import re
from pathlib import Path

from .errors import UserError

# The distributions whose versions can change a stage's results (names as the lock spells them).
COMPUTING = (
    "dask",
    "distributed",
    "dvc-ml-kit",
    "lightgbm",
    "numpy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "scipy",
)
HEADER = (
    "# The versions of what computes the pipeline's results, from requirements.txt: every stage\n"
    "# lists this file in dvc.yaml. Written by `make pins` (dvc-ml-kit pins); do not edit.\n"
)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pipeline_requirements(lock: str) -> str:
    """The text of pipeline-requirements.txt for the lock file text ``lock``."""
    pins = {}
    for line in lock.splitlines():
        found = PIN.match(line.strip())
        if found and _normal(found.group(1)) in COMPUTING:
            pins[_normal(found.group(1))] = found.group(2)
    if "dvc-ml-kit" not in pins:
        raise UserError(
            "requirements.txt pins no dvc-ml-kit version (dvc-ml-kit==X.Y.Z): pin it, then run "
            "`make pins`"
        )
    return HEADER + "".join(f"{name}=={pins[name]}\n" for name in sorted(pins))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lock", type=Path, nargs="?", default=Path("requirements.txt"))
    parser.add_argument("output", type=Path, nargs="?", default=Path("pipeline-requirements.txt"))
    args = parser.parse_args()
    if not args.lock.is_file():
        raise UserError(f"{args.lock} does not exist: pass the project's lock file")
    text = pipeline_requirements(args.lock.read_text(encoding="utf-8"))
    if args.output.is_file() and args.output.read_text(encoding="utf-8") == text:
        print(f"{args.output} is up to date")
        return
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}: the stages it changes run again on the next `dvc repro`")
