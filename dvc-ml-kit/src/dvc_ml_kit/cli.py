"""The ``dvc-ml-kit`` command: one subcommand per CI job, ``predict`` and ``serve``.

A generated project's Makefile and workflows call these; each subcommand's ``--help`` lists its
options. Subcommands import their module only when run, so ``dvc-ml-kit gate`` starts without
loading scikit-learn.
"""

import importlib
import sys

from . import __version__
from .errors import run

# Subcommand: (module, what it does).
COMMANDS = {
    "pr": ("ci.pr", "pull request check: reproduce what changed, test, report.md, gates"),
    "report": ("ci.report", "write report.md: gates, stages run, metrics, params, plots vs a base"),
    "gate": ("ci.gate", "check the quality gates against a base; exit 1 if one fails"),
    "comment": ("ci.comment", "GitLab: post report.md as the merge request's one report note"),
    "refresh": ("ci.refresh", "take the imported data's newest version and reproduce on it"),
    "refresh-mr": ("ci.refresh_mr", "GitLab: refresh's results to data-refresh; open one MR"),
    "init": ("ci.init", "adopt the pull request check in any DVC repository: CI file, gates"),
    "publish": ("ci.publish", "on main: push to the DVC remote; tag and release a changed model"),
    "fetch": ("ci.fetch", "a version's bundle (by stage or version), checked against its tag"),
    "promote": ("ci.promote", "move a published version from staging to prod, once it is checked"),
    "predict": ("model.predict", "score a CSV of raw rows with a published model bundle"),
    "serve": ("model.serve", "serve a published model bundle over HTTP: POST /predict, OpenAPI"),
    "pins": ("pins", "write pipeline-requirements.txt (what computes results) from the lock"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"usage: dvc-ml-kit {{{','.join(COMMANDS)}}} [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {about}" for name, (_, about) in COMMANDS.items()]
    lines += ["", "`dvc-ml-kit COMMAND --help` lists a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the subcommand named first in ``argv`` (default: the command line); return its exit
    code."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] == "--version":
        print(f"dvc-ml-kit {__version__}")
        return 0
    if argv[0] not in COMMANDS:
        print(
            f"error: '{argv[0]}' is not a dvc-ml-kit command: use one of {', '.join(COMMANDS)}",
            file=sys.stderr,
        )
        return 2
    module = importlib.import_module(f".{COMMANDS[argv[0]][0]}", __package__)
    sys.argv = [f"dvc-ml-kit {argv[0]}", *argv[1:]]
    return run(module.main)
