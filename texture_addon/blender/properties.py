"""Settings stored on each material as ``material.texture_forge`` (saved with the .blend).

Keeping them on the material means every material remembers how its textures were made, and a
regenerate reproduces the same result from the same seed.
"""

from __future__ import annotations

import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty,
                       IntProperty, PointerProperty, StringProperty)

from ..contract.vocabulary import (MAP_NAMES, MAX_DETAIL, MAX_SIZE, METHODS, MIN_DETAIL, MIN_SIZE,
                                   QUALITIES, SIZE_PRESETS, TILE_MODES)
from ..contract.vocabulary import MODE_TO_KIND  # noqa: F401  (the panel and job_spec import it from here)

#: The UI's words for the contract's choices (label, tooltip), listed in the contract's order.
_TILE_TEXT = {"both": ("Both", "Tiles horizontally and vertically"), "x": ("X", "Tiles horizontally only"),
              "y": ("Y", "Tiles vertically only"), "none": ("None", "No tiling constraint")}
_QUALITY_TEXT = {"draft": ("Draft", "Fast preview quality"), "default": ("Default", "Balanced"),
                 "high": ("High", "Slow, best quality")}
_METHOD_TEXT = {"nn": ("Structure", "Patch correspondence: keeps cells, dots and blades whole (default)"),
                "patch": ("Statistics", "Patch statistics: smooth blends, no copying"),
                "cnn": ("CNN", "VGG19 features; needs the weights file set in the preferences")}


def _items(names: tuple[str, ...], text: dict[str, tuple[str, str]]) -> list[tuple[str, str, str]]:
    """Enum items for the contract's ``names``; a name without words here fails at import."""
    return [(name, *text[name]) for name in names]


class TextureForgeReference(bpy.types.PropertyGroup):
    """One style reference: an image datablock or a file on disk, with a weight."""

    source: EnumProperty(
        name="Source",
        items=[("IMAGE", "Image", "An image datablock in this .blend"),
               ("FILE", "File", "An image file on disk")],
        default="IMAGE",
    )
    image: PointerProperty(name="Image", type=bpy.types.Image)
    filepath: StringProperty(name="File", subtype="FILE_PATH", default="")
    weight: FloatProperty(name="Weight", description="How much this reference counts",
                          default=1.0, min=0.0, soft_max=4.0)
    enabled: BoolProperty(name="Enabled", default=True)

    @property
    def label(self) -> str:
        if self.source == "IMAGE":
            return self.image.name if self.image else "(no image)"
        return bpy.path.basename(self.filepath) if self.filepath else "(no file)"


def _size_preset_update(self: "TextureForgeSettings", _context: bpy.types.Context) -> None:
    if self.size_preset in SIZE_PRESETS:
        self.width = self.height = SIZE_PRESETS[self.size_preset]


class TextureForgeSettings(bpy.types.PropertyGroup):
    mode: EnumProperty(
        name="Mode",
        items=[
            ("NEW", "New Texture", "Synthesise a new tileable texture from the references"),
            ("STYLIZE", "Stylize Image", "Repaint the source image in the references' style"),
            ("SEAMLESS", "Make Seamless", "Make the source image tile without visible seams"),
            ("MATERIAL", "From Material", "Derive maps from another material's image textures"),
        ],
        default="NEW",
    )
    references: CollectionProperty(type=TextureForgeReference)
    active_reference: IntProperty(name="Active Reference", default=0, min=0)
    source_image: PointerProperty(
        name="Source Image", type=bpy.types.Image,
        description="The image to stylize or to make seamless")
    reference_material: PointerProperty(
        name="Reference Material", type=bpy.types.Material,
        description="Material whose image textures are used as the maps to start from")

    size_preset: EnumProperty(
        name="Size",
        items=[("512", "512", "512 × 512"), ("1K", "1K", "1024 × 1024"),
               ("2K", "2K", "2048 × 2048"), ("4K", "4K", "4096 × 4096"),
               ("CUSTOM", "Custom", f"Any width and height ({MIN_SIZE}–{MAX_SIZE})")],
        default="512",
        update=_size_preset_update,
    )
    width: IntProperty(name="Width", default=512, min=MIN_SIZE, max=MAX_SIZE, subtype="PIXEL")
    height: IntProperty(name="Height", default=512, min=MIN_SIZE, max=MAX_SIZE, subtype="PIXEL")
    seed: IntProperty(name="Seed", default=0, min=0)
    tile: EnumProperty(
        name="Tiling",
        items=_items(TILE_MODES, _TILE_TEXT),
        default="both",
    )
    detail_scale: FloatProperty(
        name="Detail Scale", default=1.0, min=MIN_DETAIL, max=MAX_DETAIL,
        description="Size of features relative to the references (larger: bigger features)")
    quality: EnumProperty(
        name="Quality",
        items=_items(QUALITIES, _QUALITY_TEXT),
        default="default",
    )
    method: EnumProperty(
        name="Method",
        items=_items(METHODS, _METHOD_TEXT),
        default="nn",
    )
    strength: FloatProperty(name="Style Strength", default=0.7, min=0.0, max=1.0,
                            subtype="FACTOR")
    preserve_colors: BoolProperty(name="Preserve Colours", default=False,
                                  description="Keep the source image's colours when stylizing")

    map_basecolor: BoolProperty(name="Base Colour", default=True)
    map_height: BoolProperty(name="Height", default=True)
    map_normal: BoolProperty(name="Normal", default=True)
    map_roughness: BoolProperty(name="Roughness", default=True)
    map_ao: BoolProperty(name="AO", default=False)

    height_mode: EnumProperty(
        name="Height As",
        items=[("BUMP", "Bump", "Height drives a Bump node into the shader's Normal"),
               ("DISPLACEMENT", "Displacement",
                "Height drives a Displacement node into the Material Output")],
        default="BUMP",
    )
    ao_strength: FloatProperty(
        name="AO Strength", default=0.5, min=0.0, max=1.0, subtype="FACTOR",
        description="How strongly AO is multiplied into the base colour (0 keeps it unconnected)")
    storage: EnumProperty(
        name="Store Images",
        items=[("AUTO", "Auto", "Save to //textures/ next to the .blend when it has been saved, "
                                "else pack into the .blend"),
               ("PACK", "Pack", "Always pack the images into the .blend")],
        default="AUTO",
    )
    last_error: StringProperty(name="Last Error", default="")

    def selected_maps(self) -> list[str]:
        return [m for m in MAP_NAMES if getattr(self, "map_" + m)]


CLASSES = (TextureForgeReference, TextureForgeSettings)


def register_properties() -> None:
    bpy.types.Material.texture_forge = PointerProperty(type=TextureForgeSettings)


def unregister_properties() -> None:
    if hasattr(bpy.types.Material, "texture_forge"):
        del bpy.types.Material.texture_forge
