"""Style mixing: the mixed ws take exactly the requested layers from the column, the founding command
runs unchanged, and conditional and grayscale networks work."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

from stylegan2_ada.cli import main as cli_main
from stylegan2_ada.cli.legacy import style_mixing_main as script_main
from stylegan2_ada.errors import UserError
from stylegan2_ada.image_files import to_uint8
from stylegan2_ada.tools.seeds import z_from_seed
from stylegan2_ada.tools.style_mixing import mix_ws, parse_styles, style_mix

REPO = Path(__file__).resolve().parents[2]
ROWS = [4585]
COLS = [3333, 1548, 5184, 6954, 4878]


def load(path):
    return np.asarray(PIL.Image.open(path))


def test_mixed_ws_take_exactly_the_requested_layers(make_generator, tmp_path):
    G = make_generator()
    styles = [0, 1, 2, 3]
    result = style_mix(G, [11, 12], [21, 22, 23], "0-3", tmp_path, truncation_psi=0.5, progress=False)
    rest = [i for i in range(G.num_ws) if i not in styles]
    assert rest, "the test needs layers that are not mixed"
    for r in (11, 12):
        for c in (21, 22, 23):
            mixed, row, col = result.ws[(r, c)], result.ws[(r, r)], result.ws[(c, c)]
            assert torch.equal(mixed[styles], col[styles])
            assert torch.equal(mixed[rest], row[rest])
            assert not torch.equal(mixed[styles], row[styles])  # the column really differs there
    # Each source's ws are NVIDIA's: the mapping of RandomState(seed) z with truncation (up to float
    # rounding, as the batch differs).
    with torch.no_grad():
        expected = G.mapping(z_from_seed(21, G.z_dim), None, truncation_psi=0.5)[0]
    torch.testing.assert_close(result.ws[(21, 21)], expected, rtol=0, atol=1e-5)
    # And each picture is the synthesis of its ws.
    with torch.no_grad():
        image = to_uint8(G.synthesis(result.ws[(12, 23)][None], noise_mode="const"))[0]
    diff = np.abs(load(tmp_path / "12-23.png").astype(int) - image.astype(int))
    assert diff.max() <= 1 and diff.mean() < 0.1  # batch size changes the last float bits


def test_mix_ws_leaves_its_inputs_alone():
    row, col = torch.zeros(6, 4), torch.ones(6, 4)
    mixed = mix_ws(row, col, [1, 4])
    assert mixed[:, 0].tolist() == [0, 1, 0, 0, 1, 0]
    assert row.sum() == 0


def test_styles_are_checked_against_the_network():
    assert parse_styles("0-3", 6) == [0, 1, 2, 3]
    assert parse_styles("1,4", 6) == [1, 4]
    with pytest.raises(UserError, match="ws 0..5"):
        parse_styles("0-6", 6)


def test_founding_command_runs_verbatim(tiny_nets, tmp_path):
    out = tmp_path / "OUT"
    r = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "style_mixing.py"),
            f"--outdir={out}",
            "--trunc=0.5",
            "--rows=4585",
            "--cols=3333,1548,5184,6954,4878",
            f"--network={tiny_nets['rgb']}",
            "--styles=0-3",
        ],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    names = {p.name for p in out.glob("*.png")}
    expected = {f"{a}-{b}.png" for a in ROWS for b in COLS} | {f"{s}-{s}.png" for s in ROWS + COLS} | {"grid.png"}
    assert names == expected
    grid = load(out / "grid.png")
    assert grid.shape == (16 * (len(ROWS) + 1), 16 * (len(COLS) + 1), 3)
    # NVIDIA's layout: blank corner, column sources on top, row sources on the left, mixes inside.
    assert not grid[:16, :16].any()
    for i, c in enumerate(COLS):
        x = 16 * (i + 1)
        np.testing.assert_array_equal(grid[:16, x : x + 16], load(out / f"{c}-{c}.png"))
        np.testing.assert_array_equal(grid[16:32, x : x + 16], load(out / f"4585-{c}.png"))
    np.testing.assert_array_equal(grid[16:32, :16], load(out / "4585-4585.png"))


def test_conditional_network_needs_and_uses_the_class(tiny_nets, tmp_path, capsys):
    args = [
        "mix",
        f"--network={tiny_nets['cond']}",
        "--rows=1",
        "--cols=2,3",
        "--styles=0-2",
    ]
    assert cli_main([*args, f"--outdir={tmp_path / 'none'}"]) == 2
    assert "--class" in capsys.readouterr().err
    assert cli_main([*args, f"--outdir={tmp_path / 'c0'}", "--class=0"]) == 0
    assert cli_main([*args, f"--outdir={tmp_path / 'c3'}", "--class=3", "--save-ws"]) == 0
    assert not np.array_equal(load(tmp_path / "c0" / "1-2.png"), load(tmp_path / "c3" / "1-2.png"))
    with np.load(tmp_path / "c3" / "ws.npz") as data:
        assert data["w"].shape[1:] == (6, 512) and len(data["w"]) == len(data["seeds"]) == 5


def test_grayscale_grid_and_dvschultz_form(tiny_nets, tmp_path):
    out = tmp_path / "gray"
    rc = script_main(
        [
            "grid",
            f"--network={tiny_nets['gray']}",
            "--row-seeds=1,2",
            "--col-seeds=3",
            "--col-styles=4-5",
            f"--outdir={out}",
        ]
    )
    assert rc == 0
    grid = PIL.Image.open(out / "grid.png")
    assert grid.mode == "L" and grid.size == (32, 48)
    assert {p.name for p in out.glob("*-*.png")} == {
        "1-1.png",
        "2-2.png",
        "3-3.png",
        "1-3.png",
        "2-3.png",
    }


def test_columns_from_a_second_network(make_generator, tmp_path):
    """--col-network: the column seeds' ws and pictures come from the second network, the mixes from the first."""
    G, source = make_generator(seed=0), make_generator(seed=5)
    result = style_mix(G, [11, 12], [21, 22], "0-3", tmp_path, truncation_psi=0.7, progress=False, col_G=source)
    with torch.no_grad():
        col_ws = source.mapping(z_from_seed(21, source.z_dim), None, truncation_psi=0.7)[0]
        own_ws = G.mapping(z_from_seed(21, G.z_dim), None, truncation_psi=0.7)[0]
        row_ws = G.mapping(z_from_seed(12, G.z_dim), None, truncation_psi=0.7)[0]
        col_picture = to_uint8(source.synthesis(col_ws[None], noise_mode="const"))[0]
        mixed = to_uint8(G.synthesis(mix_ws(row_ws, col_ws, [0, 1, 2, 3])[None], noise_mode="const"))[0]
    assert not torch.allclose(col_ws, own_ws, atol=1e-3), "the two networks must map seeds differently"
    torch.testing.assert_close(result.ws[(12, 21)][:4], col_ws[:4], rtol=0, atol=1e-5)
    assert np.abs(load(tmp_path / "col-21.png").astype(int) - col_picture.astype(int)).max() <= 1
    assert np.abs(load(tmp_path / "12-21.png").astype(int) - mixed.astype(int)).max() <= 1
    # The grid's top row holds the second network's column pictures.
    grid = load(tmp_path / "grid.png")
    h = col_picture.shape[0]
    assert np.abs(grid[0:h, h : 2 * h].astype(int) - load(tmp_path / "col-21.png").astype(int)).max() == 0


def test_second_network_of_another_architecture_is_refused(make_generator, tiny_nets, tmp_path, capsys):
    small = save_snapshot_of(make_generator(resolution=8), tmp_path / "small.safetensors")
    code = cli_main(["mix", f"--network={tiny_nets['rgb']}", f"--col-network={small}", "--rows=1", "--cols=2",
                     "--styles=0-1", f"--outdir={tmp_path / 'out'}"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: --col-network has") and "same architecture" in err[-1]


def save_snapshot_of(G, path):
    from stylegan2_ada.io.snapshot import save_snapshot

    return save_snapshot(path, {"G_ema": G})
