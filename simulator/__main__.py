"""``python -m simulator`` is the same as the ``mglru-sim`` console script."""

import sys

from simulator.cli import main

sys.exit(main())
