"""``python -m scoring.cli``: the same as the ``leadcal`` console script."""

import sys

from . import main

sys.exit(main())
