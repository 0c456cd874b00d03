"""`python -m huracan_tui`: the same as `huracan-tui` (what --serve runs per browser session)."""

import sys

from huracan_tui.cli import main

sys.exit(main())
