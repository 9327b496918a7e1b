"""The engine side of the pipe: runs inside the separate engine process (``python -m texture_addon.worker``).

This is where numpy and torch are allowed. Blender never imports these modules.
"""
