"""User errors: problems the user can fix, reported as one sentence instead of a traceback."""

import sys
from collections.abc import Callable, Iterable


class UserError(Exception):
    """A problem the user can fix in the data or in params.yaml, reported as one sentence."""


# The exit code of a process stopped by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


def run(main: Callable[[], None]) -> int:
    """Call an entry point's ``main()``; turn a UserError into one line on stderr and exit 1,
    and Ctrl-C into one line and exit 130."""
    try:
        main()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # A stage runs as `python -m <module>`: its __main__ knows the module's name.
        spec = getattr(sys.modules["__main__"], "__spec__", None)
        name = spec.name if main.__module__ == "__main__" and spec else main.__module__
        print(
            f"error: {name} was stopped by Ctrl-C before it finished: run it again "
            "(dvc.lock records a stage only once it has finished)",
            file=sys.stderr,
        )
        return INTERRUPTED
    return 0


def check_target(columns: Iterable[str], target: str, split: object) -> None:
    """Refuse a split that prepare wrote for another target (data.target changed since)."""
    if target not in columns:
        raise UserError(
            f"data.target '{target}' is not a column of {split}, which prepare wrote for another "
            "target: run `dvc repro` (it runs prepare again)"
        )
