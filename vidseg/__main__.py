"""``python -m vidseg`` runs the command line."""

from __future__ import annotations

import sys

from vidseg.cli import main

sys.exit(main())
