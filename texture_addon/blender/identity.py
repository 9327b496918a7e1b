"""A stable identity for each material: jobs, our images and previews are keyed by it, not by name.

Names change (renaming, a material "Bricks" in another file), so a job started on one material
must never land on another that merely shares its name. Each material we work on gets a random id
in the ID property ``texture_forge_uid`` (saved with the .blend). Duplicating a material copies the
property, so :func:`ensure_uid` gives the material it is called for a fresh id whenever another
material holds the same one. A running job also remembers the .blend it was started in.
"""

from __future__ import annotations

import uuid

import bpy

UID_KEY = "texture_forge_uid"


def get_uid(material: bpy.types.Material | None) -> str | None:
    """The material's id, or None if it never had one (read-only: safe in draw and poll)."""
    if material is None:
        return None
    value = material.get(UID_KEY)
    return value if isinstance(value, str) and value else None


def ensure_uid(material: bpy.types.Material) -> str:
    """The material's id, created (or renewed, if a duplicate shares it) as needed."""
    uid = get_uid(material)
    if uid is None or any(m != material and m.get(UID_KEY) == uid for m in bpy.data.materials):
        uid = uuid.uuid4().hex
        material[UID_KEY] = uid
    return uid


def find_material(uid: str) -> bpy.types.Material | None:
    """The material with this id in the open file, if any."""
    for material in bpy.data.materials:
        if material.get(UID_KEY) == uid:
            return material
    return None


def blend_path() -> str:
    """The open .blend ("" while unsaved): a job only ever applies to the file it started in."""
    return bpy.data.filepath
