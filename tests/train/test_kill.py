"""A process killed (SIGKILL) while writing a snapshot leaves the previous one loadable and no partial
file under a final name."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from stylegan2_ada.io.snapshot import load_snapshot
from stylegan2_ada.train.state import (
    SNAPSHOT_RE,
    STATE_RE,
    latest_resumable,
    load_training_state,
    remove_stale_temps,
)

ROOT = Path(__file__).resolve().parents[2]

WRITER = r"""
import copy, sys, torch
sys.path.insert(0, sys.argv[2])
from stylegan2_ada.config import DiscriminatorConfig, GeneratorConfig, MappingConfig
from stylegan2_ada.nn import Discriminator, Generator
from stylegan2_ada.train.state import TrainState, capture_rng, save_training_state
run_dir = sys.argv[1]
G = Generator(GeneratorConfig(img_resolution=32, channel_base=4096, channel_max=128, mapping=MappingConfig(num_layers=2)))
D = Discriminator(DiscriminatorConfig(img_resolution=32, channel_base=4096, channel_max=128))
G_ema = copy.deepcopy(G)
big = torch.randn(4 << 20)  # 16 MB of optimiser-like state, so a write takes a while
i = 0
while True:
    with torch.no_grad():
        G.synthesis.b4.const.fill_(float(i))
    state = TrainState(i, i, i, 4, {"big": big}, {}, torch.zeros([]), None, None, torch.Generator().get_state(), capture_rng())
    save_training_state(run_dir, i % 3, {"G": G, "G_ema": G_ema, "D": D}, state, {"i": i})
    i += 1
    if i == 3:
        print("ready", flush=True)
"""


def test_sigkill_during_snapshot_writes(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    partial_seen = 0
    for delay in (0.05, 0.21, 0.37):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(run), str(ROOT)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        temps = [p for p in run.iterdir() if p.name.endswith(".tmp")]
        partial_seen += bool(temps)
        # Every file under a final name is complete and loadable.
        for path in run.iterdir():
            if SNAPSHOT_RE.match(path.name):
                snap = load_snapshot(path)
                assert set(snap.networks) == {"G", "G_ema", "D"}
            elif STATE_RE.match(path.name):
                state = torch.load(path, weights_only=True)
                assert state["G_opt"]["big"].numel() == 4 << 20
        kimg = latest_resumable(run)
        assert kimg is not None
        nets, state = load_training_state(run, kimg, "cpu")
        assert nets["G"].synthesis.b4.const.flatten()[0].item() >= 0
        remove_stale_temps(run)
        assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    # The kills did land inside writes (temp files were left behind), so the test exercised the danger.
    assert partial_seen >= 1
