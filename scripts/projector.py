"""Project a photo into a network: NVIDIA's projector.py command line, unchanged.

  python scripts/projector.py --outdir=out --target=face.png --network=NET [--num-steps=1000 --seed=303
      --save-video=True --w-plus --class=IDX --align]

The same as `stylegan2-ada project`; see stylegan2_ada/cli/project.py for the flags.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stylegan2_ada.cli import script_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(script_main("project", "projector.py"))
