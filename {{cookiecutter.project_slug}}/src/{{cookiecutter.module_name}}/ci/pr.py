"""ci-pr: the pull request check, as a command anyone can run locally (``make ci-pr``).

Reproduce only what changed (restoring anything computed before from the DVC remote's
run-cache) while the project's tests run beside it, write report.md and apply the quality gates.
If reproducing changed dvc.lock, either commit and push the results (``--auto-commit``) or fail
with the fix. A change to documentation alone (Markdown, docs/, licences) reproduces and tests
nothing: the report and gates then read the committed metrics, which are the base's.
"""

import argparse
import os
import sys
from pathlib import Path

from ..errors import UserError, run
from . import repo, report
from .state import (
    AUTO_COMMIT_MESSAGE,
    Run,
    gather,
    pytest_summary,
    repro_errors,
    stage_outcomes,
)

# The full output of `dvc repro` and of the tests, kept for the CI artifact.
REPRO_LOG = Path("repro.log")
TESTS_LOG = Path("pytest.log")


def check_pipeline(*, trusted: bool, auto_commit: bool, branch: str | None) -> tuple[Run, list]:
    """Reproduce and test, push the run-cache and commit a stale lock if asked; return what was
    done and the problems found (the report says more)."""
    # --pull: fetch what changed stages need and restore results computed before anywhere;
    # --allow-missing: a stage whose lock entry matches is skipped even if its outputs are absent.
    repro = ["dvc", "repro", "--allow-missing"] + (["--pull"] if trusted else [])
    # The tests read no output of the pipeline, so they run beside it, on one core of their own:
    # threaded libraries (OpenMP) in both would fight over the cores and slow each other down.
    tests = repo.start("pytest", log=TESTS_LOG, env={"OMP_NUM_THREADS": "1"})
    reproduced = repo.run(*repro, log=REPRO_LOG)
    tested = repo.finish(tests, TESTS_LOG)
    failed = reproduced.returncode != 0
    errors = repro_errors(reproduced.stdout) or [f"dvc repro exited {reproduced.returncode}"]
    done = Run(
        commit=repo.head(),
        stages=stage_outcomes(reproduced.stdout),
        errors=errors if failed else [],
        tests=pytest_summary(tested.stdout),
    )
    stale = repo.uncommitted_results()
    if not failed and trusted:
        repo.sh("dvc", "push", "--run-cache")
    if not failed and stale and auto_commit:
        target = branch or repo.quiet("git", "rev-parse", "--abbrev-ref", "HEAD")
        if target == "HEAD":
            raise UserError("HEAD is detached: give the branch to push to, as BRANCH=<name>")
        repo.sh("git", "add", *repo.RESULTS)
        repo.sh("git", "commit", "--quiet", "-m", AUTO_COMMIT_MESSAGE)
        repo.sh("git", "push", "origin", f"HEAD:refs/heads/{target}")
        done.commit, done.committed, stale = repo.head(), True, []
    problems = [
        "dvc repro failed" if failed else "",
        "the project's tests failed" if tested.returncode != 0 else "",
        "dvc.lock is out of date: see report.md for the commands that fix it" if stale else "",
    ]
    return done, [problem for problem in problems if problem]


def pr(
    base: str, *, trusted: bool, auto_commit: bool, branch: str | None, images: Path | None = None
) -> int:
    """The pull request check; returns the exit code."""
    repo.require_revision(base)
    documentation = repo.documentation_only(repo.merge_base(base))
    if documentation is None:
        done, problems = check_pipeline(trusted=trusted, auto_commit=auto_commit, branch=branch)
    else:
        # Main's results and tests hold for a change to documentation alone: nothing re-runs.
        print(f"ci-pr: only documentation changed ({', '.join(documentation) or 'nothing'})")
        done, problems = Run(commit=repo.head(), documentation=documentation), []
    done.save()
    state = gather(base, done)
    report.write(state, images)
    for failure in state.failures:
        print(f"gate failed: {failure}")
    if state.failures:
        problems.append(f"{len(state.failures)} quality gate(s) failed")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=repo.DEFAULT_BASE, help="revision to compare against")
    parser.add_argument(
        "--trusted", type=int, default=1, help="1: may read and write the DVC remote (0 for forks)"
    )
    parser.add_argument(
        "--auto-commit", type=int, default=0, help="1: commit and push a reproduced dvc.lock"
    )
    parser.add_argument(
        "--branch",
        default=os.environ.get("BRANCH") or None,
        help="the pull request's branch (default: $BRANCH, else the current one)",
    )
    parser.add_argument("--images", type=Path, help="also draw the plots as PNG files here")
    args = parser.parse_args()
    code = pr(
        args.base,
        trusted=bool(args.trusted),
        auto_commit=bool(args.auto_commit),
        branch=args.branch,
        images=args.images,
    )
    sys.exit(code)


if __name__ == "__main__":
    raise SystemExit(run(main))
