"""Kill drills: a real training run killed (SIGKILL) over and over, continued with --resume=latest each time.

    python benchmarks/kill_drill.py --kills 40            # ~5 min on a 2-core CPU

Half of the kills land exactly between two writes (STYLEGAN2_ADA_DRILL_KILL_AFTER_WRITES=N makes the
process kill itself after its Nth completed write, cycling N over every position in a tick: options file,
fakes grid, snapshot, its .json, training state, stats line, progress plot), the others at random moments.
After every kill the drill checks that
  - every snapshot and training state under a final name loads (nothing half-written),
  - the newest pair --resume=latest will take is consistent (state and snapshot saved at the same image
    count and tick), and the continued process says so and goes on at the next tick;
and at the end that the run, killed N times, equals an uninterrupted run bit for bit (weights, counters)
and that stats.jsonl has every tick exactly once.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "train"))

from train_helpers import TINY_FLAGS, write_dataset_zip  # noqa: E402

from stylegan2_ada.atomic import DRILL_ENV  # noqa: E402

WRITES_PER_TICK = 6  # fakes, snapshot, .json, state, stats line, progress plot


def train_argv(outdir: Path, data: Path, kimg: float, resume: bool) -> list[str]:
    argv = [sys.executable, "-m", "stylegan2_ada.cli", "train", f"--outdir={outdir}", f"--data={data}", *TINY_FLAGS]
    argv += [f"--kimg={kimg}", "--tick=0.004", "--snap=1", "--keep=3", "--grid=2x2", "--aug=ada", "--p=0.2", "--target=0.1"]
    return argv + (["--resume=latest"] if resume else [])


def env(kill_after: int | None) -> dict[str, str]:
    e = dict(os.environ, OMP_NUM_THREADS="1")
    e.pop(DRILL_ENV, None)
    if kill_after is not None:
        e[DRILL_ENV] = str(kill_after)
    return e


def check_files(run: Path) -> list[str]:
    """Problems with the files under final names (each must load)."""
    from stylegan2_ada.io.snapshot import load_snapshot
    from stylegan2_ada.train.state import SNAPSHOT_RE, STATE_RE, TrainState

    problems = []
    for path in sorted(run.iterdir()):
        try:
            if SNAPSHOT_RE.match(path.name):
                load_snapshot(path)
            elif STATE_RE.match(path.name):
                TrainState.load(path)
        except Exception as exc:  # noqa: BLE001 - any failure to load is what the drill looks for
            problems.append(f"{path.name}: {exc}")
    return problems


def check_pair(run: Path) -> tuple[object | None, list[str]]:
    """The pair --resume=latest takes, checked against a full load of both files."""
    from stylegan2_ada.train.state import latest_resumable, load_training_state

    point = latest_resumable(run)
    if point is None:
        return None, []
    nets, state = load_training_state(run, point, "cpu")
    problems = []
    if (state.cur_nimg, state.cur_tick) != (point.nimg, point.tick):
        problems.append(f"pair {point.key}: state at {state.cur_nimg}/{state.cur_tick}, snapshot at {point.nimg}")
    return point, problems


def run_drill(kills: int, seed: int, work: Path, kimg: float = 1.2, log=print) -> dict:  # noqa: ANN001
    from stylegan2_ada.io.snapshot import load_snapshot
    from stylegan2_ada.train.state import latest_resumable

    rnd = random.Random(seed)
    data = write_dataset_zip(work / "tiny.zip")
    reference, drilled = work / "reference", work / "drilled"
    start = time.time()
    subprocess.run(train_argv(reference, data, kimg, False), env=env(None), capture_output=True, check=True)
    (ref_run,) = sorted(reference.iterdir())
    ref_seconds = time.time() - start

    stats = {"kills": 0, "between_writes": 0, "at_random_moments": 0, "fresh_starts": 0, "resumes": 0,
             "fell_back_to_older_pair": 0, "problems": []}
    positions = list(range(1, 2 + 2 * WRITES_PER_TICK))
    for i in range(kills):
        runs = sorted(drilled.iterdir()) if drilled.is_dir() else []
        resumable = bool(runs) and latest_resumable(runs[-1]) is not None
        if runs and not resumable:  # killed before its first pair: nothing to continue, start again
            shutil.rmtree(drilled)
            stats["fresh_starts"] += 1
        between = i % 2 == 0
        kill_after = positions[(i // 2) % len(positions)] if between else None
        proc = subprocess.Popen(train_argv(drilled, data, kimg, resumable), env=env(kill_after), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if not between:
            time.sleep(rnd.uniform(1.0, 5.0))  # start-up is ~2 s: some land in it, most in the run
            proc.kill()
        out, _ = proc.communicate(timeout=600)
        killed = proc.returncode == -9
        stats["kills"] += killed
        stats["between_writes" if between else "at_random_moments"] += killed
        if not drilled.is_dir() or not any(drilled.iterdir()):  # killed before the run folder was made
            log(f"kill {i + 1:2d}/{kills}: during start-up, before the run folder")
            continue
        (run,) = sorted(drilled.iterdir())
        if resumable:
            stats["resumes"] += 1
            m = re.search(r"Continuing from (the newest (?:complete )?pair): \S+ \+ \S+ \(kimg [\d.]+, tick (\d+)\)", out)
            if m is None:  # fine only when the kill came during start-up, before the plan was printed
                if "Training options" in out:
                    stats["problems"].append(f"kill {i}: the continued run did not say which pair it took")
            else:
                stats["fell_back_to_older_pair"] += "complete" in m.group(1)
                next_tick = f"\ntick {int(m.group(2)) + 1} "
                if "\ntick " in out and next_tick not in out:
                    stats["problems"].append(f"kill {i}: did not continue at{next_tick.strip()}")
        stats["problems"] += [f"kill {i}: {p}" for p in check_files(run)]
        point, problems = check_pair(run)
        stats["problems"] += [f"kill {i}: {p}" for p in problems]
        log(f"kill {i + 1:2d}/{kills}: {'after write ' + str(kill_after) if between else 'random moment':16s} "
            f"{'killed' if killed else 'finished'}; newest pair {point.key if point else None}")
        if not killed:
            break  # the run finished before the kill: the remaining kills would find nothing to do

    # Finish the drilled run and compare it with the uninterrupted one.
    subprocess.run(train_argv(drilled, data, kimg, True), env=env(None), capture_output=True, check=True)
    (run,) = sorted(drilled.iterdir())
    a, b = latest_resumable(ref_run), latest_resumable(run)
    na, nb = load_snapshot(ref_run / f"network-snapshot-{a.key}.safetensors"), load_snapshot(
        run / f"network-snapshot-{b.key}.safetensors"
    )
    same = all(
        (na.networks[n].state_dict()[k] == nb.networks[n].state_dict()[k]).all()
        for n in na.networks
        for k in na.networks[n].state_dict()
    )
    ticks = [json.loads(line)["Progress/tick"]["mean"] for line in (run / "stats.jsonl").read_text().splitlines()]
    stats.update(
        final_equal_to_uninterrupted=bool(same) and (a.nimg, a.tick) == (b.nimg, b.tick),
        stats_ticks_once_each=ticks == list(range(len(ticks))) and len(ticks) == a.tick + 1,
        reference_seconds=round(ref_seconds, 1),
        drill_seconds=round(time.time() - start, 1),
    )
    return stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kill_drill_"))
    try:
        stats = run_drill(args.kills, args.seed, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(stats, indent=1))
    ok = not stats["problems"] and stats["final_equal_to_uninterrupted"] and stats["stats_ticks_once_each"]
    print("drill passed" if ok else "drill FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
