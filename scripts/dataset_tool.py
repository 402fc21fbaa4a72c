#!/usr/bin/env python
"""NVIDIA-compatible dataset tool: `python scripts/dataset_tool.py --source=photos/ --dest=data.zip --resolution=1024x1024`.

Same flags as NVIDIA's dataset_tool (--source, --dest, --max-images, --transform=center-crop|center-crop-wide,
--resize-filter, --width/--height or --resolution=WxH). The default is a plain resize (a non-square photo is
letterboxed, never stretched); add --mode=align for FFHQ face alignment or --mode=crop for face crops.
Runs from a checkout without installing the package.
"""

import os
import sys

# Make `stylegan2_ada` importable when run as a plain script from the repository.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from stylegan2_ada.cli.legacy import dataset_tool_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(dataset_tool_main())
