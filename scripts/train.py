"""Train StyleGAN2-ADA: `python scripts/train.py --outdir=results --data=datasets/NAME.zip ...`.

Takes NVIDIA's and dvschultz's flags (booleans as 1/0 or True/False); same as `stylegan2-ada train`.
Multi-GPU: `torchrun --nproc_per_node=N scripts/train.py --gpus=N ...` or just `--gpus=N`.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stylegan2_ada.cli import script_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(script_main("train", "train.py"))
