"""What every command shares: how it reports problems, picks its device and loads a network.

Engine modules raise `UserError` for problems the user can fix; this module turns them (and full disks,
unwritable folders, Ctrl-C) into one line on stderr and an exit code. torch is imported only inside the
functions that need it, so refusals and --help stay instant.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import UserError, describe_os_error


def exit_code(main: Callable[[], int], interrupted: str = "interrupted") -> int:
    """Runs a command's body: a UserError, a full disk or an unwritable folder becomes one 'error:' line and
    exit code 2, Ctrl-C exit code 130. Anything else stays a traceback: it is a bug."""
    try:
        return main()
    except UserError as exc:
        _close_progress_bars()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        message = describe_os_error(exc)
        if message is None:
            raise
        _close_progress_bars()
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        _close_progress_bars()
        print(interrupted, file=sys.stderr)
        return 130


def _close_progress_bars() -> None:
    """Ends the bars a failure left open, so the error line starts a line of its own."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", ())):
        bar.close()


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"warning: {message}", file=sys.stderr)


@contextlib.contextmanager
def one_line_warnings() -> Iterator[None]:
    """Shows warnings as 'warning: ...' lines instead of Python's file:line form."""
    with warnings.catch_warnings():
        warnings.showwarning = _print_warning
        yield


def command_device(name: str | None) -> Any:
    """The torch.device for --device (None = best available); an unusable one is a one-line user error."""
    from ..device import pick_device

    try:
        return pick_device(name)
    except RuntimeError as exc:
        raise UserError(str(exc)) from exc


def open_network(source: str | Path, device: Any, cache_dir: str | Path | None = None, announce: bool = True) -> Any:
    """The Snapshot (networks + metadata) of --network: our .safetensors, an NVIDIA .pkl, a known name or a
    URL. File-system failures become user errors naming the file; announced as NVIDIA's scripts do. A refused
    file (malformed or hostile) is one error line, whatever text it carried into the message."""
    from ..io.load import load_networks

    if announce:
        print(f'Loading networks from "{source}"...')
    try:
        return load_networks(str(source), device, cache_dir)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        raise UserError(f"{source}: cannot read the network ({exc.strerror or exc})") from exc
    except UserError as exc:
        text = str(exc)
        if "\n" not in text and "\r" not in text:
            raise
        raise type(exc)(text.replace("\r", " ").replace("\n", " ")) from None


def open_generator(source: str | Path, device_name: str | None) -> tuple[Any, Any]:
    """(G_ema, torch.device) for --network and --device: the generator every image command renders with."""
    device = command_device(device_name)
    return open_network(source, device).generator, device
