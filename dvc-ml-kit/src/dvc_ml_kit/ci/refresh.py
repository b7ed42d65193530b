"""refresh: take the newest version of the imported data and reproduce the pipeline on it.

For a scheduled job on the base branch: ``dvc update`` each file tracked by ``dvc import-url``
or ``dvc import``; if one changed, reproduce (restoring what was computed before from the DVC
remote's run-cache), push the outputs and the run-cache, write report.md against the base and
copy the results (the ``.dvc`` files, ``dvc.lock``, the metrics) to ``--hand-off`` for the job
that commits them to the one data-refresh branch and opens its pull request. If nothing changed,
nothing is done; if the pipeline refuses the new data, the job fails with its sentence, and the
workspace is as it was.
"""

import argparse
import re
import shutil
import sys
from pathlib import Path

from ..errors import UserError
from ..params import read_yaml
from . import repo, report
from .state import Run, gather, repro_errors, stage_outcomes

SUMMARY = Path("refresh.md")  # one line on what the refresh did, for the job summary


def imported() -> list[str]:
    """The ``.dvc`` files of data tracked by ``dvc import-url`` or ``dvc import``: one whose
    dependency is where the data comes from."""
    found = []
    listed = repo.git("ls-files", "-z", "--", "*.dvc") or ""
    for name in filter(None, listed.split("\0")):
        try:
            content = read_yaml(Path(name))
        except (UserError, OSError):
            continue
        if isinstance(content, dict) and content.get("deps"):
            found.append(name)
    return found


def say(line: str) -> None:
    """Print ``line`` and keep it as the job summary's first line."""
    print(f"refresh: {line}")
    SUMMARY.write_text(line + "\n", encoding="utf-8")


def refresh(base: str, *, trusted: bool, hand_off: Path | None) -> int:
    """The refresh; returns the exit code."""
    if repo.git("status", "--porcelain", "--untracked-files=no"):
        raise UserError(
            "the working tree has uncommitted changes: commit or stash them, then refresh"
        )
    if hand_off is not None and hand_off.is_dir() and any(hand_off.iterdir()):
        # Results of an earlier refresh there would be taken for this one's.
        raise UserError(f"{hand_off} is not empty: remove it, or give --hand-off another folder")
    sources = imported()
    if not sources:
        say(
            "no data of this project is imported (`dvc import-url` or `dvc import`): nothing "
            "to refresh (README.md, “Data that lives elsewhere”)"
        )
        return 0
    updated = repo.run("dvc", "update", "--quiet", *sources)
    if updated.returncode != 0:
        restore(sources)
        raise UserError(
            f"dvc update could not take the newest version of {', '.join(sources)}: "
            f"{(repro_errors(updated.stdout) or ['see its output above'])[0]}"
        )
    changed = [name for name in sources if repo.git("diff", "--name-only", "--", name)]
    if not changed:
        say(f"the imported data did not change ({', '.join(sources)}): nothing to do")
        return 0
    data = ", ".join(name.removesuffix(".dvc") for name in changed)
    pull = ["--pull"] if trusted and repo.remote_url() else []
    reproduced = repo.run("dvc", "repro", *pull)
    if reproduced.returncode != 0:
        errors = repro_errors(reproduced.stdout) or ["dvc repro failed: see its output above"]
        restore(sources)
        reason = re.sub(r"^(error|ERROR): ", "", errors[0])
        say(f"the new version of {data} was refused: {reason}")
        print(f"error: {reason}", file=sys.stderr)
        return 1
    if trusted and repo.remote_url():
        repo.push()
    done = Run(
        commit=repo.head(),
        stages=stage_outcomes(reproduced.stdout),
        handed_off=hand_off is not None,
    )
    report.write(gather(base, done))
    if hand_off is not None:
        for path in [*changed, *repo.results()]:
            target = hand_off / path
            target.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if Path(path).is_dir() else shutil.copy2)(path, target)
    say(f"{data} changed: the pipeline is reproduced on it (report.md)")
    return 0


def restore(sources: list[str]) -> None:
    """Put the ``.dvc`` files back as committed, and their data with them."""
    repo.run("git", "checkout", "--", *sources)
    repo.run("dvc", "checkout", "--quiet", *sources)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD", help="the revision the report compares with")
    parser.add_argument(
        "--trusted", type=int, default=1, help="1: may read and write the DVC remote"
    )
    parser.add_argument(
        "--hand-off", type=Path, help="copy the .dvc files, dvc.lock and metrics here"
    )
    args = parser.parse_args()
    sys.exit(refresh(args.base, trusted=bool(args.trusted), hand_off=args.hand_off))
