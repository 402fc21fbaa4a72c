"""`stylegan2-ada convert`: between NVIDIA network pickles and our format, either way.

  stylegan2-ada convert --network=ffhq256 --dest=ffhq256.safetensors
  stylegan2-ada convert --network=network-snapshot-000200.pkl --dest=snap200.safetensors
  stylegan2-ada convert --network=network-snapshot-000200.safetensors --dest=snap200.pkl [--flavor=stylegan3]

A pickle is read as data only (nothing in it is executed); the result is a .safetensors file with
the architecture configs inside (and a readable .json beside it) that loads without unpickling.
A --dest ending in .pkl writes a pickle for NVIDIA's own code instead (io/nvidia_export.py): it names
their classes rather than carrying their source, so it loads where their repository is importable.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from ..io.nvidia_export import FLAVOURS, save_nvidia_pickle
from ..io.snapshot import save_snapshot
from .common import one_line_warnings, open_network


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--network",
        "--source",
        dest="network",
        required=True,
        metavar="SRC",
        help="NVIDIA .pkl (PyTorch port or TF), known name (ffhq256, stylegan2-ffhq-1024x1024, ...), URL, or one of "
        "our .safetensors snapshots (to write a .pkl for NVIDIA's code)",
    )
    parser.add_argument(
        "--dest",
        "--outfile",
        dest="dest",
        default=None,
        metavar="OUT",
        help="file to write: OUT.safetensors (ours, what every command here reads), or OUT.pkl for NVIDIA's own "
        "code only (this package refuses such pickles: they call NVIDIA's classes by name)",
    )
    parser.add_argument(
        "--flavor",
        "--flavour",
        dest="flavor",
        choices=tuple(FLAVOURS),
        default="stylegan2-ada-pytorch",
        help="for a .pkl: whose code will load it, NVlabs/stylegan2-ada-pytorch or NVlabs/stylegan3 "
        "(its --cfg=stylegan2 networks) (default: stylegan2-ada-pytorch)",
    )
    parser.add_argument("--outdir", default=None, metavar="DIR", help="write <network name>.safetensors into DIR instead of --dest")
    parser.add_argument(
        "--cache-dir",
        default=None,
        metavar="DIR",
        help="download cache (default: $STYLEGAN2_ADA_CACHE or ~/.cache/stylegan2_ada)",
    )


def destination(network: str, dest: str | None, outdir: str | None) -> Path:
    if dest is not None and outdir is not None:
        raise UserError("give either --dest or --outdir, not both")
    if dest is not None:
        path = Path(dest)
        return path if path.suffix in (".safetensors", ".pkl") else path.with_name(path.name + ".safetensors")
    if outdir is None:
        raise UserError("say where to write the result: --dest=OUT.safetensors or --outdir=DIR")
    stem = Path(network.rstrip("/").split("?")[0]).name.removesuffix(".pkl").removesuffix(".safetensors") or "network"
    return Path(outdir) / f"{stem}.safetensors"


def run(args: argparse.Namespace) -> int:
    out = destination(args.network, args.dest, args.outdir)
    with one_line_warnings():
        snapshot = open_network(args.network, "cpu", cache_dir=args.cache_dir, announce=False)
    metadata = dict(snapshot.metadata)
    metadata["converted_by"] = "stylegan2-ada convert"
    if out.suffix == ".pkl":
        dataset_kwargs = metadata.pop("training_set_kwargs", None)
        path = save_nvidia_pickle(out, snapshot.networks, args.flavor, dataset_kwargs, metadata)
        names = ", ".join(snapshot.networks)
        print(f"wrote {path} ({names}) for NVIDIA's {args.flavor} code (load it from their checkout)")
        return 0
    path = save_snapshot(out, snapshot.networks, metadata)
    names = ", ".join(snapshot.networks)
    print(f"wrote {path} ({names}) and {path.with_suffix('.json').name}")
    return 0
