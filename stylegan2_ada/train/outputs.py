"""What a run writes besides snapshots: image grids, log.txt, stats.jsonl, TensorBoard, a progress plot."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import PIL.Image
import PIL.ImageDraw
import torch

from ..atomic import atomic_write, drill_point

# --- image grids -----------------------------------------------------------------------------------


def grid_shape(resolution: int) -> tuple[int, int]:
    """NVIDIA's grid: about 7680x4320 pixels, between 7x4 and 32x32 cells."""
    gw = int(np.clip(7680 // resolution, 7, 32))
    gh = int(np.clip(4320 // resolution, 4, 32))
    return gw, gh


def grid_indices(dataset: Any, gw: int, gh: int, seed: int = 0) -> list[int]:
    """Random reals for the grid; with labels, one label per row (as NVIDIA groups them)."""
    rnd = np.random.RandomState(seed)
    n = len(dataset)
    if not getattr(dataset, "has_labels", False):
        order = list(range(n))
        rnd.shuffle(order)
        return [order[i % n] for i in range(gw * gh)]
    groups: dict[tuple[float, ...], list[int]] = {}
    for i in range(n):
        groups.setdefault(tuple(np.asarray(dataset.get_label(i)).flat), []).append(i)
    labels = sorted(groups)
    for key in labels:
        rnd.shuffle(groups[key])
    out: list[int] = []
    for y in range(gh):
        members = groups[labels[y % len(labels)]]
        out += [members[x % len(members)] for x in range(gw)]
        groups[labels[y % len(labels)]] = members[gw % len(members) :] + members[: gw % len(members)]
    return out


def save_grid(
    images: np.ndarray | torch.Tensor,
    path: Path,
    drange: tuple[float, float],
    grid: tuple[int, int],
) -> None:
    """[N, C, H, W] images (N = gw*gh) tiled into one PNG, written atomically."""
    img = np.asarray(images.detach().cpu() if isinstance(images, torch.Tensor) else images, dtype=np.float32)
    lo, hi = drange
    img = np.rint((img - lo) * (255 / (hi - lo))).clip(0, 255).astype(np.uint8)
    gw, gh = grid
    _, c, h, w = img.shape
    img = img.reshape(gh, gw, c, h, w).transpose(0, 3, 1, 4, 2).reshape(gh * h, gw * w, c)
    pil = PIL.Image.fromarray(img[:, :, 0] if c == 1 else img, "L" if c == 1 else "RGB")
    atomic_write(Path(path), lambda tmp: pil.save(tmp, format="PNG"))


# --- logs ------------------------------------------------------------------------------------------


class Tee:
    """Copies everything written to stdout/stderr into log.txt (appending, so a continued run adds)."""

    def __init__(self, path: Path, preamble: str = "") -> None:
        self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.file.write(preamble)  # what was printed before the log existed (the plan, notes)
        self.stdout, self.stderr = sys.stdout, sys.stderr
        sys.stdout = _TeeStream(self.stdout, self.file)  # type: ignore[assignment]
        sys.stderr = _TeeStream(self.stderr, self.file)  # type: ignore[assignment]

    def close(self) -> None:
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, _TeeStream):
                stream.finish()
        sys.stdout, sys.stderr = self.stdout, self.stderr
        self.file.close()


class _TeeStream:
    """Writes through to the terminal; the log gets whole lines, and of a progress bar redrawn with
    carriage returns only its last state (not every frame)."""

    def __init__(self, stream: TextIO, file: TextIO) -> None:
        self.stream, self.file = stream, file
        self._line = ""  # the unterminated line, as the terminal shows it

    def write(self, text: str) -> int:
        self.stream.write(text)
        if self.file.closed:
            return len(text)
        *done, rest = (self._line + text).split("\n")
        for line in done:
            self.file.write(line.rsplit("\r", 1)[-1] + "\n")
        self._line = rest.rsplit("\r", 1)[-1] if "\r" in rest else rest
        if done:
            self.file.flush()
        return len(text)

    def finish(self) -> None:
        if self._line.strip() and not self.file.closed:
            self.file.write(self._line + "\n")
        self._line = ""

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def cpu_mem_gb() -> float:
    """Resident memory of this process in GiB (from /proc, else the peak from getrusage)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**30 if sys.platform == "darwin" else 2**20)


def format_time(seconds: float) -> str:
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {(s // 60) % 60:02d}m {s % 60:02d}s"
    return f"{s // 86400}d {(s // 3600) % 24:02d}h {(s // 60) % 60:02d}m"


class StatsWriter:
    """stats.jsonl (NVIDIA's layout: name -> {num, mean, std}) and TensorBoard events when available."""

    def __init__(self, run_dir: Path) -> None:
        self.file = open(Path(run_dir) / "stats.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self.tb = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run_dir))
        except ImportError as exc:
            print(f"Skipping TensorBoard events: {exc} (pip install tensorboard to get them)")

    def write(self, stats: dict[str, dict[str, float]], kimg: float, walltime: float, timestamp: float) -> None:
        self.file.write(json.dumps(dict(stats, timestamp=timestamp)) + "\n")
        self.file.flush()
        drill_point()
        if self.tb is not None:
            for name, value in stats.items():
                self.tb.add_scalar(name, value["mean"], global_step=int(kimg), walltime=walltime)
            self.tb.flush()

    def close(self) -> None:
        self.file.close()
        if self.tb is not None:
            self.tb.close()


# --- progress plot ---------------------------------------------------------------------------------

PLOT_SERIES = ("Loss/G/loss", "Loss/D/loss", "Loss/r1_penalty", "Loss/pl_penalty", "Progress/augment")


def plot_progress(run_dir: Path, out_name: str = "progress.png") -> Path | None:
    """Small line charts of the losses and augment p against kimg, drawn with PIL from stats.jsonl."""
    run_dir = Path(run_dir)
    rows = []
    stats = run_dir / "stats.jsonl"
    if not stats.is_file():
        return None
    for line in stats.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a kill
    metric_series = sorted({k for r in rows for k in r if k.startswith("Metrics/")})
    series = [s for s in PLOT_SERIES + tuple(metric_series) if any(s in r for r in rows)]
    if not rows or not series:
        return None
    w, h, pad = 420, 180, 36
    canvas = PIL.Image.new("RGB", (w, h * len(series)), "white")
    draw = PIL.ImageDraw.Draw(canvas)
    for i, name in enumerate(series):
        pts = [(r["Progress/kimg"]["mean"], r[name]["mean"]) for r in rows if name in r and "Progress/kimg" in r]
        pts = [(x, y) for x, y in pts if np.isfinite(y)]
        top = i * h
        draw.text((pad, top + 4), name, fill="black")
        if len(pts) < 1:
            continue
        xs, ys = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
        x0, x1 = xs.min(), max(xs.max(), xs.min() + 1e-9)
        y0, y1 = ys.min(), max(ys.max(), ys.min() + 1e-9)
        box = (pad, top + 20, w - 10, top + h - 20)
        draw.rectangle(box, outline="gray")
        draw.text((2, box[1]), f"{y1:.3g}", fill="gray")
        draw.text((2, box[3] - 10), f"{y0:.3g}", fill="gray")
        draw.text((box[0], box[3] + 2), f"{x0:g} kimg", fill="gray")
        draw.text((box[2] - 60, box[3] + 2), f"{x1:g} kimg", fill="gray")
        px = box[0] + (xs - x0) / (x1 - x0) * (box[2] - box[0])
        py = box[3] - (ys - y0) / (y1 - y0) * (box[3] - box[1])
        coords = list(zip(px.tolist(), py.tolist()))
        if len(coords) > 1:
            draw.line(coords, fill="navy", width=2)
        else:
            draw.ellipse((coords[0][0] - 2, coords[0][1] - 2, coords[0][0] + 2, coords[0][1] + 2), fill="navy")
    path = run_dir / out_name
    atomic_write(path, lambda tmp: canvas.save(tmp, format="PNG"))
    return path
