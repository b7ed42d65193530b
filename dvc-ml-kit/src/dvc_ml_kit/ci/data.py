"""The raw data of the base and of this revision, compared for the report's Data section.

Each side is read with its own params.yaml (its ``data.file`` and reading settings); the base's
file comes from DVC (its cache, else the DVC remote) at the base revision. A repository whose
params.yaml has no ``data.file`` gets no section.
"""

import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..params import parse_yaml, read_yaml
from . import repo
from .markdown import code


@dataclass(frozen=True)
class DataSection:
    """The Markdown lines of the Data section and the share of compared columns that drifted
    (None when the data could not be compared)."""

    lines: list[str]
    drift_share: float | None


def flat(params: object) -> dict[str, object]:
    """``{"data.file": ..., ...}`` of a params.yaml's ``data`` and ``prepare`` sections."""
    if not isinstance(params, dict):
        return {}
    found = {}
    for section in ("data", "prepare"):
        values = params.get(section)
        if isinstance(values, dict):
            found.update({f"{section}.{key}": value for key, value in values.items()})
    return found


def base_copy(path: str, revision: str, folder: Path) -> Path:
    """The base's ``path`` at ``revision``, copied into ``folder`` under its own name (its
    suffix says how it is compressed)."""
    from dvc.api import open as dvc_open

    target = folder / Path(path).name
    with dvc_open(path, rev=revision, mode="rb") as source, open(target, "wb") as out:
        while chunk := source.read(1 << 20):
            out.write(chunk)
    return target


def unread(sentence: str) -> DataSection:
    """A Data section that says why the data could not be compared."""
    return DataSection(["### Data", "", f"⚠️ {sentence}", ""], None)


def compared(since: str, params: Path = Path("params.yaml")) -> DataSection | None:
    """The Data section for this revision's raw data against the base's (``since``), or None
    when params.yaml names no data file."""
    from . import drift

    now = flat(read_yaml(params))
    before_text = repo.file_at(since, params)
    before = flat(parse_yaml(before_text, f"{params} on the base")) if before_text else {}
    path, old_path = now.get("data.file"), before.get("data.file")
    if not isinstance(path, str) or not isinstance(old_path, str):
        return None
    from dvc.exceptions import DvcException

    try:
        with tempfile.TemporaryDirectory() as folder:
            old = drift.read(base_copy(old_path, since, Path(folder)), before)
        new = drift.read(Path(path), now)
    except UserError as error:
        return unread(f"The data could not be compared: {error}.")
    except (DvcException, OSError) as error:  # in neither the DVC cache nor the remote
        said = str(error).strip()
        reason = said.splitlines()[0].rstrip(".") if said else type(error).__name__
        return unread(
            f"The base's {code(old_path)} could not be read to compare it (DVC: {reason}): "
            "`dvc pull` it here, or give CI the DVC remote's credentials."
        )
    change = drift.compare(
        old,
        new,
        target=str(now.get("data.target")),
        task=str(now.get("data.task")),
        id_column=now.get("data.id_column"),
        categorical_columns=now.get("data.categorical_columns") or (),
        keep_columns=now.get("data.keep_columns") or (),
        seed=int(now.get("prepare.seed") or 0),
    )
    return DataSection(drift.section(change), drift.score(change))
