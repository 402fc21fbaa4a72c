"""Train StyleGAN2-ADA: `python scripts/train.py --outdir=results --data=datasets/NAME.zip ...`.

Takes NVIDIA's and dvschultz's flags (booleans as 1/0 or True/False); same as `stylegan2-ada train`.
Multi-GPU: `torchrun --nproc_per_node=N scripts/train.py --gpus=N ...` or just `--gpus=N`.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stylegan2_ada.errors import exit_code
from stylegan2_ada.train.train_cli import add_arguments, run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()
    return exit_code(lambda: run(args), "interrupted: continue with --resume=latest")


if __name__ == "__main__":
    sys.exit(main())
