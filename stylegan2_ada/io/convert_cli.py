"""`stylegan2-ada convert`: an NVIDIA network pickle (PyTorch port or TF), name or URL to our format.

  stylegan2-ada convert --network=ffhq256 --dest=ffhq256.safetensors
  stylegan2-ada convert --network=network-snapshot-000200.pkl --dest=snap200.safetensors

The pickle is read as data only (nothing in it is executed); the result is a .safetensors file with
the architecture configs inside (and a readable .json beside it) that loads without unpickling.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from ..errors import UserError
from .load import load_networks
from .snapshot import save_snapshot


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--network",
        "--source",
        dest="network",
        required=True,
        metavar="SRC",
        help="NVIDIA .pkl (PyTorch port or TF), known name (ffhq256, stylegan2-ffhq-1024x1024, ...) or URL",
    )
    parser.add_argument("--dest", "--outfile", dest="dest", default=None, metavar="OUT.safetensors", help="file to write")
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
        return path if path.suffix == ".safetensors" else path.with_name(path.name + ".safetensors")
    if outdir is None:
        raise UserError("say where to write the result: --dest=OUT.safetensors or --outdir=DIR")
    stem = Path(network.rstrip("/").split("?")[0]).name.removesuffix(".pkl") or "network"
    return Path(outdir) / f"{stem}.safetensors"


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"warning: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    out = destination(args.network, args.dest, args.outdir)
    with warnings.catch_warnings():
        warnings.showwarning = _print_warning
        snapshot = load_networks(args.network, "cpu", cache_dir=args.cache_dir)
    metadata = dict(snapshot.metadata)
    metadata["converted_by"] = "stylegan2-ada convert"
    path = save_snapshot(out, snapshot.networks, metadata)
    names = ", ".join(snapshot.networks)
    print(f"wrote {path} ({names}) and {path.with_suffix('.json').name}")
    return 0


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Stand-alone entry point (scripts/convert.py)."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
