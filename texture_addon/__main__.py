"""``python -m texture_addon``: the plain CLI, no Blender needed."""

import sys

from .cli import main

sys.exit(main())
