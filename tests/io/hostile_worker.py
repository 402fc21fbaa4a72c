"""Runs the real command on each file of a manifest, each in a fresh forked child with a memory cap.

    python hostile_worker.py MANIFEST.json RESULTS.json

The package (torch included) is imported once here; each child inherits it, caps its address space at
what it has plus LIMIT_BYTES, blocks and records any attempt to start a process or to touch a marker path
(an audit hook), runs `stylegan2_ada.cli.main(argv)` with stdout and stderr in files, and exits with its
code. The parent records the exit code, the output, the audit events and the child's peak memory.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

LIMIT_BYTES = 1 << 30  # address space a child may add to what it inherits
CPU_SECONDS = 60
WALL_SECONDS = 120
_SPAWN_EVENTS = {
    "os.system",
    "subprocess.Popen",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "pty.spawn",
}
_WATCHED_EVENTS = {"open", "compile", "exec", "os.remove", "os.rename", "os.mkdir", "shutil.rmtree"}


def _vm_size() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def _audit_hook(token: str, events: list[str]) -> Any:
    def text_of(args: tuple[Any, ...]) -> str:
        parts = []
        for arg in args:
            consts = getattr(arg, "co_consts", None)  # exec gets a code object: look at its constants
            parts.append(repr(consts if consts is not None else arg)[:100_000])
        return " ".join(parts)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event in _SPAWN_EVENTS or (event in _WATCHED_EVENTS and token in text_of(args)):
            events.append(event)
            raise RuntimeError(f"blocked by the test: {event}")

    return hook


def _child(case: dict[str, Any], token: str, limit: int, folder: Path) -> None:
    events: list[str] = []
    rc = 99
    audit_fd = os.open(folder / "audit.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
        signal.alarm(WALL_SECONDS)
        for fd, name in ((1, "stdout.txt"), (2, "stderr.txt")):
            target = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(target, fd)
            os.close(target)
        sys.addaudithook(_audit_hook(token, events))
        from stylegan2_ada.cli import main

        rc = int(main(case["argv"]) or 0)
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else 2
    except BaseException:  # noqa: BLE001 - whatever escapes is the finding
        traceback.print_exc()
        rc = 99
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.write(audit_fd, json.dumps(events).encode())
        os._exit(rc & 0xFF)


def run_case(case: dict[str, Any], token: str, base_vm: int, folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(case, token, base_vm + LIMIT_BYTES, folder)
    _, status, usage = os.wait4(pid, 0)
    audit = (folder / "audit.json").read_text() or "[]"
    return {
        "rc": os.waitstatus_to_exitcode(status),
        "stdout": (folder / "stdout.txt").read_text(errors="replace"),
        "stderr": (folder / "stderr.txt").read_text(errors="replace"),
        "events": json.loads(audit),
        "max_rss_bytes": usage.ru_maxrss * 1024,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
    }


def main(manifest_path: str, results_path: str) -> None:
    manifest = json.loads(Path(manifest_path).read_text())
    import torch

    torch.set_num_threads(1)
    for module in ("stylegan2_ada.cli.convert", "stylegan2_ada.cli.generate", "stylegan2_ada.io.load"):
        importlib.import_module(module)  # imported once, shared by every child

    work = Path(results_path).parent / "runs"
    token = manifest["marker_dir"]
    base_vm = _vm_size()
    results = {c["name"]: run_case(c, token, base_vm, work / c["name"]) for c in manifest["cases"]}
    Path(results_path).write_text(json.dumps({"base_vm_bytes": base_vm, "results": results}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
