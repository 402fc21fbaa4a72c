"""Convert an NVIDIA network pickle (PyTorch port or TF), known name or URL to our .safetensors format.

  python scripts/convert.py --network=ffhq256 --dest=ffhq256.safetensors

The same as `stylegan2-ada convert`; nothing inside the pickle is executed.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stylegan2_ada.cli import script_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(script_main("convert", "convert.py"))
