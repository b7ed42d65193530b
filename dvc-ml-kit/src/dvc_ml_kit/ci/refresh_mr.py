"""refresh-mr: on GitLab, commit a refresh's results to the branch data-refresh and open its one
merge request.

Run after ``dvc-ml-kit refresh --hand-off DIR`` took new data and reproduced the pipeline on it
(``make refresh HAND_OFF=DIR``), in the same job. The ``.dvc`` files, ``dvc.lock`` and the metrics
in DIR, and nothing else, become one commit on top of the checked-out commit (in a worktree of
its own: the workspace and the branch checked out stay as they are). If origin's data-refresh
already holds that tree, nothing is pushed. Otherwise the commit replaces data-refresh on origin
(pushed with ``CI_PUSH_TOKEN`` through git's credential helper, as .gitlab-ci.yml sets it up),
and a merge request from data-refresh into the default branch is opened with report.md as its
description, unless one is open already. The pipeline's code does not run here.
"""

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import UserError
from . import repo
from .gitlab import GitLab
from .refresh import SUMMARY

BRANCH = "data-refresh"
TITLE = "Data refresh"
MESSAGE = "Refresh the imported data and reproduce the pipeline"
# git's credential helper reads it when it pushes (.gitlab-ci.yml); here it is only looked for.
PUSH_TOKEN = "CI_PUSH_TOKEN"
DEFAULT_BRANCH = "CI_DEFAULT_BRANCH"


def handed_off(folder: Path, metrics: str) -> list[str]:
    """The files in ``folder``, as paths in the project; refuse a folder that holds anything but
    ``.dvc`` files, ``dvc.lock`` and the metrics folder's files."""
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    unexpected = [
        name
        for name in files
        if not (name.endswith(".dvc") or name == "dvc.lock" or name.startswith(f"{metrics}/"))
    ]
    if unexpected:
        raise UserError(
            f"{folder} holds files other than .dvc files, dvc.lock and {metrics}/ "
            f"({', '.join(unexpected)}): give it the folder `make refresh HAND_OFF=...` wrote"
        )
    return files


def commit(folder: Path, files: list[str], metrics: str) -> str:
    """A commit on top of HEAD with ``files`` from ``folder`` (the metrics folder replaced as a
    whole); return its id."""
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "tree"
        repo.quiet("git", "worktree", "add", "--quiet", "--detach", str(tree), "HEAD")
        try:
            if (folder / metrics).is_dir():
                shutil.rmtree(tree / metrics, ignore_errors=True)
            shutil.copytree(folder, tree, dirs_exist_ok=True)
            paths = [*files, *([metrics] if (folder / metrics).is_dir() else [])]
            repo.quiet("git", "-C", str(tree), "add", "--all", "--", *paths)
            repo.quiet("git", "-C", str(tree), "commit", "--quiet", "--no-verify", "-m", MESSAGE)
            return repo.quiet("git", "-C", str(tree), "rev-parse", "HEAD")
        finally:
            repo.git("worktree", "remove", "--force", str(tree))
            repo.git("worktree", "prune")


def tree_of(revision: str) -> str:
    return repo.quiet("git", "rev-parse", f"{revision}^{{tree}}")


def say(line: str) -> None:
    """Print ``line`` and add it to the refresh's summary (refresh.md), if there is one."""
    print(f"refresh-mr: {line}", flush=True)
    if SUMMARY.is_file():
        with SUMMARY.open("a", encoding="utf-8") as summary:
            summary.write(line + "\n")


def open_merge_request(folder: Path, report: Path, target: str) -> str:
    """Commit the results in ``folder`` to data-refresh, push them unless origin holds them
    already, and open the merge request into ``target`` unless one is open; return what was done:
    ``nothing to commit``, ``nothing to push``, ``opened`` or ``updated``."""
    if not (folder / "dvc.lock").is_file():
        say(f"the refresh left no results in {folder} (the data did not change): nothing to commit")
        return "nothing to commit"
    metrics = repo.metrics_file().parent.as_posix()
    files = handed_off(folder, metrics)
    if not os.environ.get(PUSH_TOKEN):
        raise UserError(
            f"{PUSH_TOKEN} not set: it is the project access token with the write_repository "
            f"scope that pushes the branch {BRANCH} (README.md, CI/CD variables)"
        )
    api = GitLab.from_environment()
    if not report.is_file():
        raise UserError(f"{report} does not exist: `make refresh` writes it with the results")
    new = commit(folder, files, metrics)
    tip = repo.origin_tip(BRANCH)
    if tip is not None:
        repo.quiet("git", "fetch", "--quiet", "origin", f"refs/heads/{BRANCH}")
        if tree_of("FETCH_HEAD") == tree_of(new):
            say(f"The {BRANCH} merge request already holds this data: nothing to push.")
            return "nothing to push"
    # Asked before the push, so that a token GitLab refuses stops the job before anything moves.
    already_open = api.open_merge_requests(BRANCH, target)
    # Replaces the branch, unless someone else pushed to it since it was read.
    lease = f"--force-with-lease=refs/heads/{BRANCH}:{tip or ''}"
    repo.sh("git", "push", lease, "origin", f"{new}:refs/heads/{BRANCH}")
    if already_open:
        say(f"Updated the open {BRANCH} merge request !{already_open[0].get('iid', '?')}.")
        return "updated"
    description = report.read_text(encoding="utf-8")
    opened = api.create_merge_request(BRANCH, target, TITLE, description)
    say(f"Opened the {BRANCH} merge request !{opened.get('iid', '?')}.")
    return "opened"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hand_off", help="the folder `refresh --hand-off` wrote")
    parser.add_argument(
        "--report", type=Path, default=Path("report.md"), help="the merge request's description"
    )
    parser.add_argument(
        "--target",
        default=os.environ.get(DEFAULT_BRANCH, ""),
        help=f"the branch to merge into (default: ${DEFAULT_BRANCH}, which GitLab's CI sets)",
    )
    args = parser.parse_args()
    if not args.hand_off:
        raise UserError("no folder given: name the one `make refresh HAND_OFF=...` wrote")
    if not args.target:
        raise UserError(
            f"{DEFAULT_BRANCH} not set: GitLab's CI sets it; elsewhere, give --target BRANCH"
        )
    open_merge_request(Path(args.hand_off), args.report, args.target)
