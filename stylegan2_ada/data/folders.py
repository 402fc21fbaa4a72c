"""A folder of photos as a source: a recursive walk that survives what real folders hold.

Symbolic links are followed, but every folder and file is visited once (by device and inode): a link
back to a parent ('sub/up -> ..') is a loop, reported once instead of multiplying the photos. Broken
links, named pipes, sockets, unreadable files and folders, system and hidden files each become a skip
with a reason. Names that are not valid UTF-8 are kept for opening and shown with escapes.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from typing import Any

from .items import SourceItem, display_name, skip_item
from .labels import parse_dataset_json, plural, summarise
from .side_files import VIDEO_EXTENSIONS, file_reason, folder_reason
from .videos import scan_video

_SPECIAL = {stat.S_IFIFO: "a named pipe", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a character device",
            stat.S_IFBLK: "a block device"}


def _why_unreadable(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop (the link points back to itself)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return exc.strerror or str(exc)


class _Walk:
    """Collects (relative path, item-or-path) in one pass; files are turned into items afterwards."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.files: list[tuple[str, str]] = []  # (rel, path) of regular files to use
        self.skips: list[tuple[str, SourceItem]] = []
        self.seen_dirs: dict[tuple[int, int], str] = {}
        self.seen_files: dict[tuple[int, int], str] = {}

    def skip(self, rel: str, path: str, reason: str) -> None:
        shown = display_name(rel)
        self.skips.append((rel, skip_item(shown, path, reason)))

    def run(self) -> None:
        """Depth-first, with an explicit stack: no recursion limit for deep trees."""
        st = os.stat(self.root)
        self.seen_dirs[(st.st_dev, st.st_ino)] = "."
        stack: list[tuple[str, str, frozenset[tuple[int, int]]]] = [(self.root, "", frozenset({(st.st_dev, st.st_ino)}))]
        while stack:
            path, rel, ancestors = stack.pop()
            try:
                with os.scandir(path) as it:
                    # Real entries before links, so a link (not its target) is the one reported as a repeat.
                    entries = sorted(it, key=lambda e: (e.is_symlink(), e.name))
            except OSError as exc:
                self.skip(rel + "/" if rel else ".", path, f"cannot list this folder: {_why_unreadable(exc)}")
                continue
            for entry in entries:
                sub = self.entry(entry, f"{rel}/{entry.name}" if rel else entry.name, ancestors)
                if sub is not None:
                    stack.append(sub)

    def entry(
        self,
        entry: os.DirEntry,
        rel: str,
        ancestors: frozenset[tuple[int, int]],
    ) -> tuple[str, str, frozenset[tuple[int, int]]] | None:
        """Records a file or a skip; returns a folder still to scan."""
        path = entry.path
        try:
            st = os.stat(path)  # follows links
        except FileNotFoundError:
            target = _link_target(path)
            self.skip(rel, path, f"broken symbolic link (its target {target} does not exist)")
            return None
        except OSError as exc:
            self.skip(rel, path, f"cannot read it: {_why_unreadable(exc)}")
            return None
        ident = (st.st_dev, st.st_ino)
        if stat.S_ISDIR(st.st_mode):
            reason = folder_reason(entry.name)
            if reason:
                self.skip(rel + "/", path, reason)
            elif ident in ancestors:
                back = self.seen_dirs[ident]
                where = "the source folder itself" if back == "." else f"'{display_name(back)}'"
                self.skip(rel + "/", path, f"symbolic link loop: it leads back to {where}, which is being scanned; not followed")
            elif ident in self.seen_dirs:
                self.skip(rel + "/", path, f"the same folder as '{display_name(self.seen_dirs[ident])}' (a link); read once")
            else:
                self.seen_dirs[ident] = rel
                return path, rel, ancestors | {ident}
            return None
        kind = _SPECIAL.get(stat.S_IFMT(st.st_mode))
        if kind or not stat.S_ISREG(st.st_mode):
            self.skip(rel, path, f"{kind or 'a special file'}, not a regular file; not read")
        elif ident in self.seen_files:
            self.skip(rel, path, f"the same file as '{display_name(self.seen_files[ident])}' (a link to it); used once")
        elif not os.access(path, os.R_OK):
            self.skip(rel, path, "cannot read it: permission denied")
        else:
            self.seen_files[ident] = rel
            self.files.append((rel, path))
        return None


def _link_target(path: str) -> str:
    try:
        return f"'{display_name(os.readlink(path))}'"
    except OSError:
        return "(unknown)"


def scan_folder(
    root: str,
    work_dir: str,
    every_nth_frame: int,
) -> Iterator[SourceItem]:
    walk = _Walk(root)
    walk.run()
    labels: dict[str, Any] = {}
    problems: list[str] = []
    rows: list[tuple[str, Any]] = list(walk.skips)
    for rel, path in walk.files:
        if rel == "dataset.json":
            labels, problems = _read_labels(path)
            continue
        rows.append((rel, path))
    if any(rel == "dataset.json" for rel, _ in walk.files):
        meta = os.path.join(root, "dataset.json")
        rows.append(("dataset.json", skip_item("dataset.json", meta, f"the source's label file, not an image ({plural(len(labels), 'label')} read)")))
        for problem in summarise(problems):
            rows.append(("dataset.json", skip_item("dataset.json", meta, f"label problem: {problem}")))
        present = {display_name(rel) for rel, _ in walk.files}
        missing = sorted(set(labels) - present)
        if missing:
            rows.append(("dataset.json", skip_item("dataset.json", meta, f"it labels {plural(len(missing), 'name')} not in the folder (e.g. {missing[0]})")))
    for rel, value in sorted(rows, key=lambda r: r[0]):
        if isinstance(value, SourceItem):
            yield value
        else:
            yield from _file_items(rel, value, labels, work_dir, every_nth_frame)


def _read_labels(path: str) -> tuple[dict[str, Any], list[str]]:
    try:
        with open(path, "rb") as f:
            return parse_dataset_json(f.read(64 << 20))
    except OSError as exc:
        return {}, [f"cannot read it ({exc.strerror or exc})"]


def _file_items(rel: str, path: str, labels: dict[str, Any], work_dir: str, every_nth_frame: int) -> Iterator[SourceItem]:
    shown = display_name(rel)
    if os.path.basename(rel) == "dataset.json":
        yield skip_item(shown, path, "a dataset.json below the top folder: its labels are not used")
        return
    reason = file_reason(rel)
    if reason:
        yield skip_item(shown, path, reason)
    elif os.path.splitext(rel)[1].lower() in VIDEO_EXTENSIONS:
        yield from scan_video(path, work_dir, every_nth_frame, display=shown)
    else:
        yield SourceItem(name=shown, kind="file", path=path, label_key=shown, label=labels.get(shown))
