"""comment: post report.md as the merge request's one report note on GitLab, updated in place.

``make comment`` in a merge request pipeline (GitLab sets ``CI_API_V4_URL``, ``CI_PROJECT_ID``
and ``CI_MERGE_REQUEST_IID``; ``GITLAB_TOKEN`` is a masked CI/CD variable). Locally, set the
same variables to post a report by hand. See gitlab.py for why this is not CML.
"""

import argparse
import os
from pathlib import Path

from ..errors import UserError
from .gitlab import GitLab

# Hidden in the note, so that the next run finds and updates it instead of adding another.
WATERMARK = "<!-- model-report: updated in place by make comment -->"
MERGE_REQUEST = "CI_MERGE_REQUEST_IID"


def post(report: Path, api: GitLab, merge_request: str) -> str:
    """Create or update the report note; return what was done."""
    if not report.is_file():
        raise UserError(f"{report} does not exist: `make ci-pr` or `make report` writes it")
    return api.upsert_note(merge_request, report.read_text(encoding="utf-8"), WATERMARK)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="the markdown file to post")
    args = parser.parse_args()
    merge_request = os.environ.get(MERGE_REQUEST)
    if not merge_request:
        raise UserError(f"{MERGE_REQUEST} is not set: this runs in a merge request pipeline")
    done = post(args.report, GitLab.from_environment(), merge_request)
    print(f"comment: {done} the report note on merge request !{merge_request}")
