"""User errors: problems the user can fix, reported as one sentence instead of a traceback.

Ctrl-C too: a stage or a command stopped by it says so in one line. Importing this package sets
the process's ``sys.excepthook`` for that (unless something else has set one): a stage spends its
first second importing pandas and scikit-learn, before any of its code could catch the interrupt.
"""

import sys
from collections.abc import Callable, Iterable


class UserError(Exception):
    """A problem the user can fix in the data or in params.yaml, reported as one sentence."""


# What ends a line (str.splitlines): written escaped in a sentence, so that a name from the data
# (a column named "a\x85b") cannot break it in two.
LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


def run(main: Callable[[], None]) -> int:
    """Call an entry point's ``main()``; turn a UserError into one line on stderr and exit 1."""
    try:
        main()
    except UserError as error:
        print(f"error: {str(error).translate(LINE_BREAKS)}", file=sys.stderr)
        return 1
    return 0


def _interrupted(kind, value, traceback) -> None:
    """The excepthook: one line for Ctrl-C, Python's own report for anything else. Python then
    ends the process as SIGINT would, so that DVC and shells see how it stopped."""
    if not issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, traceback)
        return
    # A stage runs as `python -m <module>`, the command as `dvc-ml-kit <subcommand>`.
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    name = spec.name if spec else " ".join(sys.argv[:2])
    print(
        f"error: {name} was stopped by Ctrl-C before it finished: run it again "
        "(dvc.lock records a stage only once it has finished)",
        file=sys.stderr,
    )


if sys.excepthook is sys.__excepthook__:
    sys.excepthook = _interrupted


def check_target(columns: Iterable[str], target: str, split: object) -> None:
    """Refuse a split that prepare wrote for another target (data.target changed since)."""
    if target not in columns:
        raise UserError(
            f"data.target '{target}' is not a column of {split}, which prepare wrote for another "
            "target: run `dvc repro` (it runs prepare again)"
        )
