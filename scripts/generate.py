"""Generate images: both command lines people already use work unchanged.

  python scripts/generate.py generate-images --outdir=out --trunc=0 --seeds=0-555 --network=NET   (dvschultz)
  python scripts/generate.py --outdir=out --trunc=1 --seeds=0,1,4-6 --network=NET                 (NVlabs)

The same as `stylegan2-ada generate`; see stylegan2_ada/cli/legacy.py for the flags.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stylegan2_ada.cli.legacy import generate_main

if __name__ == "__main__":
    sys.exit(generate_main(prog="generate.py"))
