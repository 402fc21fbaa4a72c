"""The error type for problems the user can fix, and the rule for how commands report it."""

import sys
from collections.abc import Callable


class UserError(Exception):
    """Bad input, a missing file, a mismatched network: the message says what happened and what to do."""


def exit_code(main: Callable[[], int]) -> int:
    """Runs a command's body: a UserError becomes one 'error:' line and exit code 2, Ctrl-C exit code 130."""
    try:
        return main()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
