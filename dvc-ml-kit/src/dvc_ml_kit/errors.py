"""User errors: problems the user can fix, reported as one sentence instead of a traceback."""

import sys
from collections.abc import Callable, Iterable


class UserError(Exception):
    """A problem the user can fix in the data or in params.yaml, reported as one sentence."""


def run(main: Callable[[], None]) -> int:
    """Call an entry point's ``main()``; turn a UserError into one line on stderr and exit 1."""
    try:
        main()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def check_target(columns: Iterable[str], target: str, split: object) -> None:
    """Refuse a split that prepare wrote for another target (data.target changed since)."""
    if target not in columns:
        raise UserError(
            f"data.target '{target}' is not a column of {split}, which prepare wrote for another "
            "target: run `dvc repro` (it runs prepare again)"
        )
