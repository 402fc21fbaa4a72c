"""`python -m stylegan2_ada.cli COMMAND ...` (what torchrun launches for several processes)."""

import sys

from . import main

sys.exit(main())
