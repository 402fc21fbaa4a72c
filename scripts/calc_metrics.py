"""Quality metrics with NVIDIA's calc_metrics.py flags:

  python scripts/calc_metrics.py --metrics=fid50k_full,kid50k_full --network=NET --data=DATA --mirror=1 --gpus=1

The same as `stylegan2-ada metrics`; see stylegan2_ada/cli/metrics.py for every flag.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stylegan2_ada.cli import script_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(script_main("metrics", "calc_metrics.py"))
