"""``python -m texture_addon.worker``: the engine process the Blender add-on talks to (see engine_side/server.py)."""

import os
import sys

from .engine_side.server import main

status = main()
# Leave without the interpreter's teardown: it can take a second with torch loaded, and the
# client may be waiting on our exit. Everything worth keeping has been sent and flushed.
sys.stderr.flush()
os._exit(status)
