"""The error type for problems the user can fix, and the words for operating-system failures they fix outside
the program (cli.common.exit_code turns both into one line)."""

import errno


class UserError(Exception):
    """Bad input, a missing file, a mismatched network: the message says what happened and what to do."""


# Operating-system failures the user fixes outside the program; anything else stays a traceback (a bug).
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
_NO_WRITE = {errno.EACCES, errno.EPERM, errno.EROFS}


def describe_os_error(exc: OSError) -> str | None:
    """One line saying what to do about a full disk, an unwritable folder or a path that cannot be used (a file
    where a folder should be, a missing file); None for other errors (bugs stay tracebacks)."""
    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno in _DISK_FULL:
        return (
            f"the disk is full{where}: free some space (training: --keep=N keeps only the newest N snapshots) and "
            "run the command again; files written before are intact (every write goes through a temporary file), "
            "and a training run continues from its last snapshot with --resume=latest"
        )
    if exc.errno in _NO_WRITE:
        return f"permission denied{where}: choose a folder you can write to (e.g. --outdir) or fix its permissions"
    path = f" {exc.filename}" if exc.filename else ""
    if exc.errno == errno.EEXIST:
        return f"{path.strip() or 'a path'} exists and is not a folder: give a new or existing folder (e.g. --outdir)"
    if exc.errno == errno.ENOTDIR:
        return f"a part of the path{path} is a file, not a folder: choose another folder"
    if exc.errno == errno.EISDIR:
        return f"{path.strip() or 'the path'} is a folder: give a file name"
    if exc.errno == errno.ENOENT:
        return f"no such file or folder:{path or ' (unnamed)'}; check the path (a folder to write in must be creatable)"
    if exc.errno == errno.ENAMETOOLONG:
        return f"the file name is too long{where}: choose a shorter one"
    if exc.errno == errno.ELOOP:
        return f"too many symbolic links{where}: the path loops"
    return None
