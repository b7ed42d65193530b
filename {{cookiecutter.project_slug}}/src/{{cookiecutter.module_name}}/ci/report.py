"""report: what a change does to the model, as markdown for the pull request comment.

``make report`` (``python -m <package>.ci.report --base origin/main``) writes report.md from the
workspace and the base revision. On a commit ``make ci-pr`` checked, it shows what that check
did (stages run, tests); the same command makes the same file locally and in CI.
"""

import argparse
import json
from pathlib import Path

from ..errors import UserError, run
from . import render, repo
from .state import PullRequest, Run, gather

REPORT = Path("report.md")


def plot_images(base: str, folder: Path) -> list[Path]:
    """Opt-in: DVC's plots of both revisions as PNG files in ``folder``, for
    ``cml comment update --publish`` to upload. Needs the vl-convert-python package."""
    try:
        import vl_convert
    except ImportError:
        raise UserError(
            "images of the plots need vl-convert-python: `uv pip install vl-convert-python`"
        ) from None
    folder.mkdir(parents=True, exist_ok=True)
    images = []
    for path, entries in repo.plots_diff(base)["data"].items():
        for entry in entries:
            image = folder / f"{Path(path).stem}.png"
            image.write_bytes(vl_convert.vegalite_to_png(json.dumps(entry["content"])))
            images.append(image)
    return images


def write(pr: PullRequest, images: Path | None = None, out: Path = REPORT) -> None:
    """Render ``pr`` (with the plot images, if asked) into ``out``."""
    if images is not None:
        pr.images = plot_images(repo.merge_base(pr.base), images)
    out.write_text(render.report(pr), encoding="utf-8")
    print(f"report: wrote {out}")


def write_stopped(base: str, error: str, run: Run | None, out: Path = REPORT) -> None:
    """A report that names why the check stopped, so that every outcome has one."""
    out.write_text(render.stopped(repo.head(short=True), base, error, run), encoding="utf-8")
    print(f"report: wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=repo.DEFAULT_BASE, help="revision to compare against")
    parser.add_argument("--out", type=Path, default=REPORT, help="file to write")
    parser.add_argument("--images", type=Path, help="also draw the plots as PNG files here")
    args = parser.parse_args()
    repo.require_revision(args.base)
    write(gather(args.base, Run.of_commit(repo.head())), args.images, args.out)


if __name__ == "__main__":
    raise SystemExit(run(main))
