"""The error type for problems the user can fix; the command line prints these as one line."""


class UserError(Exception):
    """Bad input, a missing file, a mismatched network: the message says what happened and what to do."""
