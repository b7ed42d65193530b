"""report: what a change does to the model, as markdown for the pull request comment.

``make report`` (``dvc-ml-kit report --base origin/main``) writes report.md from the
workspace and the base revision. On a commit ``make ci-pr`` checked, it shows what that check
did (stages run, tests); the same command makes the same file locally and in CI.
"""

import argparse
from pathlib import Path

from . import render, repo
from .state import PullRequest, Run, gather

REPORT = Path("report.md")


def save(text: str, out: Path) -> None:
    """Write ``text`` to ``out`` if it fits in a comment; else the whole of it beside ``out``
    (render.WHOLE) and, to ``out``, as much as fits, naming what was left out."""
    whole = out.with_name(render.WHOLE)
    whole.unlink(missing_ok=True)  # an earlier run's, which would be taken for this one's
    post = render.within(text)
    if post != text:
        whole.write_text(text, encoding="utf-8")
        print(f"report: wrote {whole} ({len(text):,} characters, more than a comment takes)")
    out.write_text(post, encoding="utf-8")
    print(f"report: wrote {out}")


def write(pr: PullRequest, out: Path = REPORT) -> None:
    """Render ``pr`` into ``out``."""
    save(render.report(pr), out)


def write_stopped(base: str, error: str, run: Run | None, out: Path = REPORT) -> None:
    """A report that names why the check stopped, so that every outcome has one."""
    save(render.stopped(repo.head(short=True), base, error, run), out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=repo.DEFAULT_BASE, help="revision to compare against")
    parser.add_argument("--out", type=Path, default=REPORT, help="file to write")
    args = parser.parse_args()
    repo.require_revision(args.base)
    write(gather(args.base, Run.of_commit(repo.head())), args.out)
