"""pipeline-requirements.txt: the pinned versions of what computes a pipeline's results.

A project's stages list this small file in their ``deps``, so a new version of dvc-ml-kit or of a
library that computes results re-runs them, while a new version of a dev tool (ruff, pytest),
which changes only requirements.txt, re-runs nothing. ``dvc-ml-kit pins`` writes it from the
project's lock files (``uv pip compile`` or ``pip-compile`` output): requirements.txt, and
requirements-dask.txt where the Dask engine's pins are kept apart.
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
    "# The versions of what computes the pipeline's results, from the requirements files: every\n"
    "# stage lists this file in dvc.yaml. Written by `make pins` (dvc-ml-kit pins); do not edit.\n"
)
# name==version, and the environment marker of a universal lock (`; python_full_version < '3.12'`).
PIN = re.compile(
    r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)\s*(?:;\s*([^\\#]*?))?\s*(?:\\)?$"
)


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pipeline_requirements(*locks: str) -> str:
    """The text of pipeline-requirements.txt for the lock files' texts ``locks``."""
    pins: dict[tuple[str, str], str] = {}
    for lock in locks:
        for line in lock.splitlines():
            found = PIN.match(line.strip())
            if not found or _normal(found.group(1)) not in COMPUTING:
                continue
            # A universal lock may pin a library once per Python version range.
            key = (_normal(found.group(1)), found.group(3) or "")
            version = found.group(2)
            if pins.setdefault(key, version) != version:
                where = f" ({key[1]})" if key[1] else ""
                raise UserError(
                    f"the requirements files pin {key[0]}{where} at both {pins[key]} and "
                    f"{version}: re-pin them together (`make lock`)"
                )
    if not any(name == "dvc-ml-kit" for name, _ in pins):
        raise UserError(
            "requirements.txt pins no dvc-ml-kit version (dvc-ml-kit==X.Y.Z): pin it, then run "
            "`make pins`"
        )
    lines = [
        f"{name}=={pins[name, marker]}" + (f" ; {marker}" if marker else "")
        for name, marker in sorted(pins)
    ]
    return HEADER + "".join(f"{line}\n" for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "locks",
        type=Path,
        nargs="*",
        help="lock files (default: requirements.txt, and requirements-dask.txt if present)",
    )
    parser.add_argument(
        "-o", "--output", type=Path, default=Path("pipeline-requirements.txt"), help="file to write"
    )
    args = parser.parse_args()
    locks = args.locks or [
        path
        for path in (Path("requirements.txt"), Path("requirements-dask.txt"))
        if path == Path("requirements.txt") or path.is_file()
    ]
    for lock in locks:
        if not lock.is_file():
            raise UserError(f"{lock} does not exist: pass the project's lock files")
    text = pipeline_requirements(*(lock.read_text(encoding="utf-8") for lock in locks))
    if args.output.is_file() and args.output.read_text(encoding="utf-8") == text:
        print(f"{args.output} is up to date")
        return
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}: the stages it changes run again on the next `dvc repro`")
