"""ci-pr: the pull request check, as a command anyone can run locally (``make ci-pr``).

Reproduce only what changed (restoring anything computed before from the DVC remote's
run-cache) and compare it with the base while the project's tests run beside it, write report.md
and apply the quality gates.
If reproducing changed dvc.lock, either commit and push the results (``--auto-commit``), leave
them in a folder for another job to commit (``--hand-off``), or fail with the fix. A change to
documentation alone (Markdown, docs/, licences) reproduces and tests nothing: the report and
gates then read the committed metrics, which are the base's.
"""

import argparse
import os
import shutil
import sys
from pathlib import Path

from ..errors import UserError
from ..params import SETTINGS, load_params
from . import repo, report
from .state import (
    AUTO_COMMIT_MESSAGE,
    IMPORT_UNREACHABLE,
    NO_REMOTE,
    NO_SECRETS,
    REMOTE_FAILED,
    UNREACHABLE_REMOTE,
    Run,
    failed_stage,
    gather,
    pytest_summary,
    repro_errors,
    stage_outcomes,
)

# The full output of `dvc repro` and of the tests, kept for the CI artifact.
REPRO_LOG = Path("repro.log")
TESTS_LOG = Path("pytest.log")
PARAMS = Path("params.yaml")
# What `make lint` checks.
LINT = (("ruff", "check", "."), ("ruff", "format", "--check", "."))
# The tests have one core of their own (OpenMP on one thread) and are done within seconds, while
# the stages' OpenMP threads keep their default wait policy. Threads that sleep instead of spin
# (OMP_WAIT_POLICY=passive) cost a train-param pull request far more than they left the tests:
# 13-16 s instead of 8 s on the sample, 42 s instead of 35 s on a million rows. Lowering the
# tests' priority (nice 10) saved nothing measurable either.
TESTS_ENV = {"OMP_NUM_THREADS": "1"}


def check_pipeline(
    *, trusted: bool, push_to: str | None, hand_off: Path | None = None
) -> tuple[Run, list]:
    """Reproduce and lint, push the run-cache and commit a stale lock to the branch ``push_to``
    (or hand it off) if asked; return what was done and the problems found (the report says
    more). The tests run beside it: see :func:`pr`."""
    remote = repo.remote_url()
    # --pull: fetch what changed stages need and restore results computed before anywhere;
    # --allow-missing: a stage whose lock entry matches is skipped even if its outputs are absent.
    pull = trusted and remote is not None
    repro = ["dvc", "repro", "--allow-missing"] + (["--pull"] if pull else [])
    reproduced = repo.run(*repro, log=REPRO_LOG)
    linted = [repo.run(*command).returncode == 0 for command in LINT] if lints() else None
    done = Run(
        commit=repo.head(),
        stages=stage_outcomes(reproduced.stdout),
        lint=None if linted is None else all(linted),
    )
    if reproduced.returncode != 0:
        explain_failure(done, reproduced.stdout, trusted=trusted, remote=remote)
    stale = repo.uncommitted_results()
    if done.reproduced and pull:
        repo.push()
    if done.reproduced and stale and push_to:
        repo.sh("git", "add", *repo.results())
        repo.sh("git", "commit", "--quiet", "-m", AUTO_COMMIT_MESSAGE)
        repo.sh("git", "push", "origin", f"HEAD:refs/heads/{push_to}")
        done.commit, done.committed, stale = repo.head(), True, []
    elif done.reproduced and stale and hand_off is not None:
        # For a job that runs none of this branch's code to commit: the results, nothing else.
        for path in map(Path, repo.results()):
            copy = shutil.copytree if path.is_dir() else shutil.copy2
            (hand_off / path).parent.mkdir(parents=True, exist_ok=True)
            copy(path, hand_off / path)
        done.handed_off, stale = True, []
    if done.access:
        stages = ", ".join(done.not_run)
        failed = f"the pipeline changed, but this run could not reproduce it ({stages}): "
        failed += f"its inputs are not here ({', '.join(done.missing)}); see report.md"
    else:
        failed = "dvc repro failed"
    problems = [
        "" if done.reproduced else failed,
        "lint failed: run `make format`, or see `make lint`" if done.lint is False else "",
        "dvc.lock is out of date: see report.md for the commands that fix it" if stale else "",
    ]
    return done, [problem for problem in problems if problem]


def lints() -> bool:
    """Whether the check lints: in a generated project, and in any repository that configures
    ruff (ruff.toml, .ruff.toml, or [tool.ruff] in pyproject.toml)."""
    pyproject = repo.read(Path("pyproject.toml")) or ""
    configured = any(Path(name).is_file() for name in ("ruff.toml", ".ruff.toml"))
    return repo.generated() or configured or "[tool.ruff" in pyproject


def tests() -> bool:
    """Whether the check runs pytest: in a generated project, and in any repository with a
    tests folder or a pytest configuration (pytest.ini, or [tool.pytest...] in pyproject.toml)."""
    pyproject = repo.read(Path("pyproject.toml")) or ""
    configured = Path("pytest.ini").is_file() or "[tool.pytest" in pyproject
    return repo.generated() or configured or Path("tests").is_dir()


def push_target(branch: str | None, base: str) -> str:
    """The branch --auto-commit pushes to: BRANCH if given, else the one checked out. Refused
    before anything runs: a BRANCH other than the branch checked out (or, on a detached CI
    checkout, one whose commits on origin this commit does not hold), and the base branch,
    which takes changes through review only."""
    current = repo.quiet("git", "rev-parse", "--abbrev-ref", "HEAD")
    target = branch or current
    if target == "HEAD":
        raise UserError("HEAD is detached: give the branch to push to, as BRANCH=<name>")
    if current not in ("HEAD", target):
        raise UserError(
            f"BRANCH={target} is not the branch checked out ({current}): AUTO_COMMIT=1 pushes "
            "to the branch being checked only, so leave BRANCH unset"
        )
    remote, _, name = base.partition("/")  # origin/main: main; a local branch as it is
    if target == (name if remote in (repo.git("remote") or "").split() else base):
        raise UserError(
            f"AUTO_COMMIT=1 never pushes to {target}, the base branch: check a branch of its "
            f"own, whose pull request brings the results to {target}"
        )
    tip = repo.origin_tip(target)
    if current == "HEAD" and tip is None:
        raise UserError(
            f"origin has no branch {target}: BRANCH must name the branch this commit is on"
        )
    if tip is not None and not repo.succeeds("git", "merge-base", "--is-ancestor", tip, "HEAD"):
        raise UserError(
            f"origin's {target} has commits this one lacks: BRANCH must name the branch this "
            f"commit is on, and if it does, pull first (`git pull origin {target}`)"
        )
    return target


def check_hand_off(folder: Path) -> None:
    """Refuse, before anything runs, a hand-off folder that the results cannot go to alone:
    the working tree or a folder holding it, a folder inside the results, or one that holds
    files already (a folder of the user's, or an earlier hand-off)."""
    target, tree = folder.resolve(), Path.cwd().resolve()
    if target == tree or target in tree.parents:
        raise UserError(
            f"HAND_OFF={folder} is the working tree or a folder holding it: name a new folder "
            "for the results, as HAND_OFF=results"
        )
    for result in repo.results():
        if target == Path(result).resolve() or Path(result).resolve() in target.parents:
            raise UserError(
                f"HAND_OFF={folder} overlaps {result}, which the results are copied from: "
                "name a new folder, as HAND_OFF=results"
            )
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UserError(
            f"HAND_OFF={folder} is not an empty folder: remove it, or name a new folder for "
            "the results"
        )


def explain_failure(done: Run, log: str, *, trusted: bool, remote: str | None) -> None:
    """Record in ``done`` why ``dvc repro`` failed: its errors, the stages that did not run and,
    when those lacked inputs that only the DVC remote holds, why this run could not have them."""
    done.errors = repro_errors(log) or ["dvc repro failed without an error line: see repro.log"]
    failed = failed_stage(log)
    if failed:
        done.stages.pop(failed, None)  # it may have started, but it did not run through
    done.not_run = [name for name in repo.stage_names() if name not in done.stages]
    # No stage named: DVC stopped before any stage ran (fetching their inputs from the remote
    # failed): the missing inputs are those of the first stage, in dvc.yaml's order, that lacks
    # any (a later one's may be an earlier one's output).
    stages = [failed] if failed else done.not_run
    done.missing = next(filter(None, map(repo.missing_inputs, ([name] for name in stages))), [])
    if not done.missing:
        return  # a real failure (the data, the code): the report shows DVC's errors
    if repo.repository_imports(done.missing) == done.missing:
        done.access = IMPORT_UNREACHABLE  # fetched from another repository, whatever the remote
    elif remote is None:
        done.access = NO_REMOTE
    elif not trusted:
        done.access = NO_SECRETS if "://" in remote else UNREACHABLE_REMOTE
    else:
        done.access = REMOTE_FAILED


def pr(
    base: str,
    *,
    trusted: bool,
    auto_commit: bool,
    branch: str | None,
    hand_off: Path | None = None,
) -> int:
    """The pull request check; returns the exit code. Whatever stops it once it has started,
    report.md says why; what it was asked to do wrong stops it before, touching nothing."""
    repo.check_dvc_locks()
    push_to = push_target(branch, base) if auto_commit else None
    if hand_off is not None:
        check_hand_off(hand_off)
    done = None
    try:
        repo.require_revision(base)
        # Every setting, whether or not a stage that reads it runs: a misspelt key stops here.
        if repo.generated():
            load_params(PARAMS, SETTINGS)
        documentation = repo.documentation_only(repo.merge_base(base))
        if documentation is None:
            if trusted:  # it pushes to the DVC remote
                repo.check_remote_folder()
            # The tests read no output of the pipeline, so they run beside it (see TESTS_ENV).
            testing = repo.start("pytest", log=TESTS_LOG, env=TESTS_ENV) if tests() else None
            try:
                done, problems = check_pipeline(trusted=trusted, push_to=push_to, hand_off=hand_off)
                state = gather(base, done)  # what reproducing wrote, not what the tests do
            finally:
                tested = repo.finish(testing, TESTS_LOG) if testing else None
                if done is not None and tested is not None:
                    done.tests = pytest_summary(tested.stdout)  # state.run is done
            if tested is not None and tested.returncode != 0:
                problems.append("the project's tests failed")
        else:
            # Main's results and tests hold for a change to documentation alone: nothing re-runs.
            print(f"ci-pr: only documentation changed ({', '.join(documentation) or 'nothing'})")
            done, problems = Run(commit=repo.head(), documentation=documentation), []
            state = gather(base, done)
        done.save()
        report.write(state)
    except UserError as error:
        if done is not None:
            done.save()
        report.write_stopped(base, str(error), done)
        raise
    problems += state.gates_problems  # wrong in the gates the branch sets, whatever ran
    if done.reproduced:  # gates apply to metrics reproduced for this commit only
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
    parser.add_argument(
        "--hand-off",
        type=Path,
        help="copy a reproduced dvc.lock and metrics here for another job to commit and push",
    )
    args = parser.parse_args()
    code = pr(
        args.base,
        trusted=bool(args.trusted),
        auto_commit=bool(args.auto_commit),
        branch=args.branch,
        hand_off=args.hand_off,
    )
    sys.exit(code)
