"""`python -m cli`: the `maskbot` command without the installed script."""

from __future__ import annotations

import sys

from cli import main

sys.exit(main())
