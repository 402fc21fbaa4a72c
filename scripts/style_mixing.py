"""Style mixing grid: the NVlabs and dvschultz command lines work unchanged.

  python scripts/style_mixing.py --outdir=out --trunc=0.5 --rows=4585 --cols=3333,1548 --styles=0-3 --network=NET
  python scripts/style_mixing.py grid --outdir=out --row-seeds=4585 --col-seeds=3333,1548 --col-styles=0-3 --network=NET

The same as `stylegan2-ada mix`; see stylegan2_ada/cli/mix.py for the flags.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stylegan2_ada.cli.legacy import style_mixing_main

if __name__ == "__main__":
    sys.exit(style_mixing_main(prog="style_mixing.py"))
