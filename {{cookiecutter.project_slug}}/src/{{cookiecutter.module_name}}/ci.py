"""What CI runs, as commands anyone can run locally: ``make ci-pr`` and ``make ci-publish``.

``pr``: reproduce only what changed (restoring anything computed before from the DVC remote's
run-cache), run the tests, write report.md and apply the quality gates. If reproducing changed
dvc.lock, either commit and push the results (``--auto-commit``) or fail with the fix. A change
to documentation alone (Markdown, docs/, licenses) reproduces and tests nothing: the report and
gates then read the committed metrics, which are the base's.

``publish`` (main only): reproduce (nothing should run), push everything to the DVC remote, check
the remote holds every output, and if the model changed since the last version, tag the next
version (GTO's ``model@vX.Y.Z``), build the bundle in dist/ and create a GitHub release.
"""

import argparse
import json
import os
import pickle
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from {{ cookiecutter.module_name }} import bundle, report
from {{ cookiecutter.module_name }}.gate import merge_base
from {{ cookiecutter.module_name }}.report import REPRO_LOG, TESTS_LOG, read
from {{ cookiecutter.module_name }}.stage import UserError, read_yaml, run

ARTIFACT = "model"
DIST = Path("dist")
FIRST_VERSION = "v1.0.0"
LIBRARIES = ["scikit-learn", "numpy", "pandas", "skops", "dvc", "gto"]


def sh(*command: str, log: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``command``, showing its output; also save it to ``log``. Raise UserError on failure."""
    print(f"$ {' '.join(command)}", flush=True)
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as process:
        lines = []
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    output = "".join(lines)
    if log is not None:
        log.write_text(output, encoding="utf-8")
    if check and process.returncode != 0:
        raise UserError(f"`{' '.join(command)}` failed (exit code {process.returncode}), see above")
    return subprocess.CompletedProcess(command, process.returncode, output)


def quiet(*command: str) -> str:
    """Output of a short command that must succeed."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise UserError(
            f"`{' '.join(command)}` failed: {done.stderr.strip() or done.stdout.strip()}"
        )
    return done.stdout.strip()


def require_revision(base: str) -> None:
    known = ["git", "rev-parse", "--verify", "--quiet", base + "^{commit}"]
    if subprocess.run(known, capture_output=True).returncode != 0:
        raise UserError(
            f"the base revision '{base}' is not known here: fetch it (`git fetch origin main`), "
            "or in GitHub Actions check out with fetch-depth: 0"
        )


def check_pipeline(*, trusted: bool, auto_commit: bool, branch: str | None) -> list[str]:
    """Reproduce, test, push the run-cache and commit a stale lock if asked; return the problems
    found (the report says more)."""
    # --pull: fetch what changed stages need and restore results computed before anywhere;
    # --allow-missing: a stage whose lock entry matches is skipped even if its outputs are absent.
    repro = ["dvc", "repro", "--allow-missing"] + (["--pull"] if trusted else [])
    # The log starts with the commit it ran on, so that `make report` uses it on that commit only.
    head = quiet("git", "rev-parse", "HEAD")
    done = sh(*repro, check=False)
    REPRO_LOG.write_text(f"{report.LOG_HEADER}{head}\n{done.stdout}", encoding="utf-8")
    reproduced = done.returncode == 0
    tests_pass = sh("pytest", log=TESTS_LOG, check=False).returncode == 0
    stale = report.uncommitted_results()
    if reproduced and trusted:
        sh("dvc", "push", "--run-cache")
    if reproduced and stale and auto_commit:
        target = branch or quiet("git", "rev-parse", "--abbrev-ref", "HEAD")
        if target == "HEAD":
            raise UserError("HEAD is detached: give the branch to push to, as BRANCH=<name>")
        sh("git", "add", *report.RESULTS)
        sh("git", "commit", "--quiet", "-m", report.AUTO_COMMIT_MESSAGE)
        sh("git", "push", "origin", f"HEAD:refs/heads/{target}")
        stale = []
    problems = [
        "dvc repro failed" if not reproduced else "",
        "the project's tests failed" if not tests_pass else "",
        "dvc.lock is out of date: see report.md for the commands that fix it" if stale else "",
    ]
    return [problem for problem in problems if problem]


def pr(
    base: str, *, trusted: bool, auto_commit: bool, branch: str | None, images: Path | None = None
) -> int:
    """The pull request check; returns the exit code."""
    require_revision(base)
    documentation = report.documentation_only(merge_base(base))
    if documentation is None:
        problems = check_pipeline(trusted=trusted, auto_commit=auto_commit, branch=branch)
    else:
        # Main's results and tests hold for a change to documentation alone: nothing re-runs.
        print(f"ci-pr: only documentation changed ({', '.join(documentation) or 'nothing'})")
        REPRO_LOG.unlink(missing_ok=True)
        TESTS_LOG.unlink(missing_ok=True)
        problems = []
    text, failures = report.build(base, read(REPRO_LOG), read(TESTS_LOG), images=images)
    Path("report.md").write_text(text, encoding="utf-8")
    print("ci-pr: wrote report.md")
    for failure in failures:
        print(f"gate failed: {failure}")
    if failures:
        problems.append(f"{len(failures)} quality gate(s) failed")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


def model_path() -> str:
    return read_yaml(Path("dvc.yaml"))["artifacts"][ARTIFACT]["path"]


def model_md5(lock_text: str | None) -> str | None:
    return report.lock_entries(lock_text).get(model_path())


def latest_version() -> str | None:
    """The newest published version (``v1.2.0``), from GTO's tags; None before the first."""
    tags = quiet("git", "tag", "--list", f"{ARTIFACT}@v*", "--sort=-v:refname")
    return tags.splitlines()[0].split("@", 1)[1] if tags else None


def model_card(info: dict, metrics: dict) -> str:
    rows = [
        f"| {name} | {value:.4g} | {metrics['baseline'].get(name, float('nan')):.4g} |"
        for name, value in metrics["model"].items()
    ]
    settings = json.dumps(info["params"], indent=2)
    libraries = ", ".join(f"{name} {version}" for name, version in info["libraries"].items())
    return "\n".join(
        [
            f"# {info['artifact']} {info['version']}",
            "",
            f"A {info['task']} model of `{info['target']}`, built by this repository's pipeline.",
            "",
            f"- Code revision: `{info['revision']}`",
            f"- Training data: `{info['data']['path']}` (md5 `{info['data']['md5']}`)",
            f"- Model file in the DVC cache: md5 `{info['model_md5']}`",
            f"- Python {info['python']}; {libraries}",
            "",
            "## Metrics (test split)",
            "",
            "| Metric | Model | Baseline |",
            "| --- | ---: | ---: |",
            *rows,
            "",
            "## Parameters",
            "",
            "```json",
            settings,
            "```",
            "",
            "## Use",
            "",
            "Download every file of the release into one folder, then:",
            "",
            "```sh",
            "sha256sum -c SHA256SUMS",
            f"python -m {__package__}.predict <folder> rows.csv predictions.csv",
            "```",
            "",
            "`predict` checks the checksums and the types in the model before loading it.",
            "",
        ]
    )


def build_bundle(version: str) -> Path:
    """Write dist/<artifact>-<version>/ from the workspace's model, params and metrics."""
    params = read_yaml(Path("params.yaml"))
    lock = Path("dvc.lock").read_text(encoding="utf-8")
    data_path = params["data"]["file"]
    with open(model_path(), "rb") as file:
        model = pickle.load(file)
    metrics = json.loads(Path("metrics/metrics.json").read_text(encoding="utf-8"))
    info = {
        "artifact": ARTIFACT,
        "version": version,
        "task": params["data"]["task"],
        "target": params["data"]["target"],
        "id_column": params["data"]["id_column"],
        "categorical_columns": params["data"]["categorical_columns"] or [],
        "revision": quiet("git", "rev-parse", "HEAD"),
        "data": {"path": data_path, "md5": report.lock_entries(lock).get(data_path)},
        "model_md5": model_md5(lock),
        "params": {key: params[key] for key in ("prepare", "train")},
        "python": platform.python_version(),
        "libraries": {name: metadata.version(name) for name in LIBRARIES},
    }
    folder = DIST / f"{ARTIFACT}-{version}"
    if folder.exists():
        raise UserError(f"{folder} already exists: remove it and run again")
    bundle.write_bundle(folder, model, info, model_card(info, metrics), metrics)
    bundle.load_bundle(folder)  # what users will load must load
    return folder


def publish(*, dry_run: bool, branch: str) -> int:
    """The publish job on the default branch; returns the exit code."""
    current = quiet("git", "rev-parse", "--abbrev-ref", "HEAD")
    if current != branch:
        raise UserError(f"ci-publish runs on {branch} only, and this is '{current}'")
    if quiet("git", "status", "--porcelain", "--untracked-files=no"):
        raise UserError("the working tree has uncommitted changes: commit or stash them first")
    # Fetch every output; whatever the remote lacks (a fork's pull request could not push) is
    # recomputed by repro, and the lock must not change: main's lock matches its code.
    sh("dvc", "pull", "--allow-missing")
    sh("dvc", "repro", log=REPRO_LOG)
    if report.uncommitted_results():
        raise UserError(
            f"reproducing {branch} changed {', '.join(report.uncommitted_results())}: its dvc.lock "
            "does not match its code and parameters; fix that in a pull request (`make ci-pr`)"
        )
    sh("dvc", "push", "--run-cache")
    missing = json.loads(quiet("dvc", "status", "--cloud", "--json") or "{}")
    if missing:
        raise UserError(f"the DVC remote still lacks {', '.join(sorted(missing))} after the push")
    print("ci-publish: the DVC remote holds every output of dvc.lock")

    latest = latest_version()
    lock = Path("dvc.lock").read_text(encoding="utf-8")
    published = latest and quiet("git", "show", f"{ARTIFACT}@{latest}:dvc.lock")
    if latest and model_md5(published) == model_md5(lock):
        tag = f"{ARTIFACT}@{latest}"
        if dry_run or release_exists(tag):
            print(f"ci-publish: the model is the same as {tag}: nothing to publish")
            return 0
        # The tag was pushed but its release failed last time: make the release now.
        print(f"ci-publish: {tag} has no GitHub release yet: creating it")
        sh(*release_command(tag, build_bundle(latest)))
        return 0
    bump = ["--version", FIRST_VERSION] if latest is None else ["--bump-minor"]
    message = f"Publish {ARTIFACT} (model md5 {model_md5(lock)})"
    sh("gto", "register", ARTIFACT, "HEAD", *bump, "-m", message)
    version = latest_version()
    tag = f"{ARTIFACT}@{version}"
    try:
        folder = build_bundle(version)
    except BaseException:
        sh("git", "tag", "--delete", tag)  # not pushed yet: leave no version without a bundle
        raise
    release = release_command(tag, folder)
    if dry_run:
        print(f"ci-publish: dry run: created {tag} locally (not pushed) and {folder}")
        print(f"ci-publish: a real run would now run: git push origin {tag}; {' '.join(release)}")
        return 0
    sh("git", "push", "origin", tag)
    sh(*release)
    print(f"ci-publish: published {tag}")
    return 0


def release_command(tag: str, folder: Path) -> list[str]:
    """The ``gh`` command that creates the GitHub release of ``tag`` with the bundle's files."""
    files = sorted(str(path) for path in folder.iterdir())
    notes = str(folder / bundle.CARD_FILE)
    return ["gh", "release", "create", tag, *files, "--title", tag, "--notes-file", notes]


def release_exists(tag: str) -> bool:
    done = subprocess.run(["gh", "release", "view", tag], capture_output=True, text=True)
    return done.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    pr_parser = commands.add_parser("pr", help="check a pull request")
    pr_parser.add_argument("--base", default="origin/main", help="revision to compare against")
    pr_parser.add_argument(
        "--trusted", type=int, default=1, help="1: may read and write the DVC remote (0 for forks)"
    )
    pr_parser.add_argument(
        "--auto-commit",
        type=int,
        default=0,
        help="1: commit and push a reproduced dvc.lock to the branch",
    )
    pr_parser.add_argument(
        "--branch",
        default=os.environ.get("BRANCH") or None,
        help="the pull request's branch (default: $BRANCH, else the current one)",
    )
    pr_parser.add_argument("--images", type=Path, help="also draw the plots as PNG files here")
    publish_parser = commands.add_parser("publish", help="publish a new model version")
    publish_parser.add_argument(
        "--dry-run", type=int, default=0, help="1: tag locally only, no push and no GitHub release"
    )
    publish_parser.add_argument("--branch", default="main", help="the branch that publishes")
    args = parser.parse_args()
    if args.command == "pr":
        code = pr(
            args.base,
            trusted=bool(args.trusted),
            auto_commit=bool(args.auto_commit),
            branch=args.branch,
            images=args.images,
        )
    else:
        code = publish(dry_run=bool(args.dry_run), branch=args.branch)
    sys.exit(code)


if __name__ == "__main__":
    raise SystemExit(run(main))
