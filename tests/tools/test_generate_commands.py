"""The generate command lines end to end: scripts/generate.py in both forms, and `stylegan2-ada generate`."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import PIL.Image

from stylegan2_ada.cli import main as cli_main

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "generate.py"


def run_script(*args, cwd=REPO):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def pngs(folder):
    return sorted(p.name for p in Path(folder).glob("*.png"))


def test_dvschultz_command_line(tiny_nets, tmp_path):
    out = tmp_path / "out"
    r = run_script(
        "generate-images",
        f"--outdir={out}",
        "--trunc=0",
        "--seeds=0-3",
        f"--network={tiny_nets['rgb']}",
        "--create-grid",
    )
    assert r.returncode == 0, r.stderr
    assert pngs(out) == ["grid.png", "seed0000.png", "seed0001.png", "seed0002.png", "seed0003.png"]
    with PIL.Image.open(out / "seed0002.png") as im:
        assert im.size == (16, 16) and im.mode == "RGB"
    # its default outdir is ./out, relative to where it runs
    r = run_script(
        "generate-images", "--seeds=5", f"--network-pkl={tiny_nets['gray']}", "--truncation-psi=0.7", cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    with PIL.Image.open(tmp_path / "out" / "seed0005.png") as im:
        assert im.mode == "L" and im.size == (16, 16)


def test_nvlabs_command_line(tiny_nets, tmp_path):
    out = tmp_path / "out"
    args = ["--outdir", out, "--trunc=1", "--seeds=0,1,4-6", "--class=3", "--noise-mode=const"]
    r = run_script(*args, f"--network={tiny_nets['cond']}")
    assert r.returncode == 0, r.stderr
    assert pngs(out) == ["seed0000.png", "seed0001.png", "seed0004.png", "seed0005.png", "seed0006.png"]
    with PIL.Image.open(out / "seed0004.png") as im:
        assert im.size == (16, 16) and im.mode == "RGB"
    # an unconditional network warns about --class and still generates, as NVIDIA's script does
    r = run_script(*args[:-1], "--outdir", tmp_path / "u", f"--network={tiny_nets['rgb']}")
    assert r.returncode == 0 and "warning: --class=3 ignored" in r.stderr
    assert len(pngs(tmp_path / "u")) == 5


def test_unknown_network_is_one_line_exit_2(tmp_path):
    r = run_script("--outdir", tmp_path, "--seeds=0", f"--network={tmp_path / 'nope.safetensors'}")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "nope.safetensors" in lines[0]


def test_dvschultz_commands_we_lack_exit_2_in_user_words(tmp_path):
    r = run_script("generate-neighbors", "--network=x", "--seeds=0-3")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "not available" in r.stderr and "generate-images" in r.stderr and "issue" not in r.stderr


def test_package_cli_generate(tiny_nets, tmp_path, capsys):
    out = tmp_path / "out"
    rc = cli_main(
        ["generate", f"--network={tiny_nets['rgb']}", "--seeds=1-2", f"--outdir={out}", "--grid", "--batch-size=1"]
    )
    assert rc == 0 and pngs(out) == ["grid.png", "seed0001.png", "seed0002.png"]
    ws = np.random.RandomState(0).randn(2, 6, 512).astype(np.float32)
    np.savez(tmp_path / "projected_w.npz", w=ws)
    rc = cli_main(
        [
            "generate",
            f"--network={tiny_nets['rgb']}",
            f"--projected-w={tmp_path / 'projected_w.npz'}",
            f"--outdir={out}",
        ]
    )
    assert rc == 0 and (out / "proj01.png").is_file()
    rc = cli_main(["generate", f"--network={tiny_nets['cond']}", "--seeds=0", f"--outdir={out}"])
    assert rc == 2 and "--class" in capsys.readouterr().err
