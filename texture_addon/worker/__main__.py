"""``python -m texture_addon.worker``: the engine process the Blender add-on talks to (see server.py)."""

import sys

from .server import main

sys.exit(main())
