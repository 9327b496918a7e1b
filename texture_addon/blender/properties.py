"""Settings stored on each material as ``material.texture_forge`` (saved with the .blend).

Keeping them on the material means every material remembers how its textures were made, and a
regenerate reproduces the same result from the same seed.
"""

from __future__ import annotations

import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty,
                       FloatVectorProperty, IntProperty, PointerProperty, StringProperty)

from ..contract.vocabulary import (DERIVED_MAPS, HEIGHT_SOURCES, MAP_NAMES, MAX_DETAIL, MAX_LIGHT_ANGLE, MAX_SIZE,
                                   METHODS, MIN_DETAIL, MIN_SIZE, QUALITIES, SIZE_PRESETS, TILE_MODES)
from ..contract.spec import KIND_METHODS
from ..contract.vocabulary import MODE_TO_KIND  # the panel and job_spec import it from here too

#: The UI's words for the contract's choices (label, tooltip), listed in the contract's order.
_TILE_TEXT = {"both": ("Both", "Tiles horizontally and vertically"), "x": ("X", "Tiles horizontally only"),
              "y": ("Y", "Tiles vertically only"), "none": ("None", "No tiling constraint")}
_QUALITY_TEXT = {"draft": ("Draft", "Fast preview quality"), "default": ("Default", "Balanced"),
                 "high": ("High", "Slow, best quality")}
_METHOD_TEXT = {"nn": ("Structure", "Patch correspondence: keeps cells, dots and blades whole (default)"),
                "patch": ("Statistics", "Patch statistics: smooth blends, no copying"),
                "cnn": ("CNN", "VGG19 features; needs the weights file set in the preferences")}
_HEIGHT_FROM_TEXT = {
    "shading": ("Shading", "Read the relief from the picture's light and shade: sides facing the light are "
                           "lit, sides facing away are dark. The base colour loses the picture's light, so "
                           "the renderer does not light the relief twice (default)"),
    "luminance": ("Brightness", "Bright is high, dark is low: the quick classic guess. The base colour keeps "
                                "the picture as it is, shadows included")}


def _items(names: tuple[str, ...], text: dict[str, tuple[str, str]]) -> list[tuple[str, str, str]]:
    """Enum items for the contract's ``names``; a name without words here fails at import."""
    return [(name, *text[name]) for name in names]


def offered_methods(mode: str) -> tuple[str, ...]:
    """The methods the mode's job kind accepts (the contract's KIND_METHODS; every method otherwise)."""
    return KIND_METHODS.get(MODE_TO_KIND[mode], METHODS)


#: Blender keeps only a pointer to dynamic enum items' strings: they must outlive the call.
_METHOD_ITEMS: dict[tuple[str, ...], list[tuple[str, str, str, str, int]]] = {}


def method_items(mode: str) -> list[tuple[str, str, str, str, int]]:
    """The Method menu's items in ``mode``: only what the mode's job accepts, so no choice fails at Generate.

    Each item keeps its number in METHODS, so a saved method keeps its meaning in every mode.
    """
    names = offered_methods(mode)
    if names not in _METHOD_ITEMS:
        _METHOD_ITEMS[names] = [(n, *_METHOD_TEXT[n], "", METHODS.index(n)) for n in names]
    return _METHOD_ITEMS[names]


def _method_items(self: "TextureForgeSettings", _context: bpy.types.Context | None) -> list:
    """Blender's items callback for ``method``: the menu follows the material's mode."""
    return method_items(self.mode)


def stored_method(settings: "TextureForgeSettings") -> str:
    """The method saved on the material, even where the mode's menu does not offer it (reads as '')."""
    return METHODS[settings.get("method", 0)]


def _mode_update(self: "TextureForgeSettings", _context: bpy.types.Context) -> None:
    """A mode whose job refuses the chosen method (CNN for Seamless) falls back to its first method."""
    offered = offered_methods(self.mode)
    if stored_method(self) not in offered:
        self.method = offered[0]


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

    # --- Prepare (straighten → heal → flatten before Generate; the photo itself is never changed)
    show_prepare: BoolProperty(name="Prepare", default=False,
                               description="Show how this photo is prepared before synthesis")
    has_corners: BoolProperty(name="Straighten", default=False,
                              description="Straighten the photo from the four corners picked on it")
    corners: FloatVectorProperty(
        name="Corners", size=8, default=(0.0,) * 8,
        description="The surface's corners in photo pixels (x, y from the top-left): top-left, "
                    "top-right, bottom-right, bottom-left")
    flatten: BoolProperty(name="Even Out Lighting", default=False,
                          description="Remove the photo's uneven light (gradients, vignetting, soft shadows)")
    heal_mask: PointerProperty(
        name="Heal Mask", type=bpy.types.Image,
        description="White areas of this image (the photo's size) are filled from the rest of the photo")

    @property
    def label(self) -> str:
        if self.source == "IMAGE":
            return self.image.name if self.image else "(no image)"
        return bpy.path.basename(self.filepath) if self.filepath else "(no file)"

    @property
    def prepared(self) -> bool:
        """Whether Generate prepares this reference (any step set)."""
        return bool(self.has_corners or self.flatten or self.heal_mask is not None)

    def corner_points(self) -> list[tuple[float, float]] | None:
        """The picked corners as four (x, y) photo pixels (TL, TR, BR, BL), or None."""
        if not self.has_corners:
            return None
        c = list(self.corners)
        return [(c[i], c[i + 1]) for i in range(0, 8, 2)]


def _size_preset_update(self: "TextureForgeSettings", _context: bpy.types.Context) -> None:
    if self.size_preset in SIZE_PRESETS:
        self.width = self.height = SIZE_PRESETS[self.size_preset]


def _repeat_update(self: "TextureForgeSettings", _context: bpy.types.Context) -> None:
    """Repeat drives our Mapping node at once: scale is a viewing choice, no regenerate needed."""
    from .material_nodes import set_repeat

    material = self.id_data
    if isinstance(material, bpy.types.Material):
        set_repeat(material, self.repeat)


#: Settings that make no difference to what Generate produces, so changing them keeps the
#: outcome line ("Done in …") of the last job: how the result is viewed and stored.
VIEW_ONLY_SETTINGS = frozenset({"repeat", "preview_tiled", "active_reference", "last_error",
                                "outcome", "outcome_settings", "result_token", "rna_type", "name"})


#: The reference settings that shape a result (show_prepare only opens a box).
REFERENCE_FINGERPRINT = ("source", "image", "filepath", "weight", "enabled", "has_corners", "corners", "flatten",
                         "heal_mask")


def settings_fingerprint(settings: "TextureForgeSettings") -> str:
    """A short digest of every setting that shapes a job's result (references and images by name).

    The outcome of a job is shown only while this still matches the fingerprint saved with it, so
    "Done in 12 s" never describes settings the artist has changed since.
    """
    import hashlib

    def value(owner: bpy.types.bpy_struct, name: str) -> str:
        v = getattr(owner, name)
        if isinstance(v, bpy.types.ID):
            return "ID:" + v.name_full
        if v is None:
            return "None"
        try:
            return repr(tuple(v)) if not isinstance(v, str) else v
        except TypeError:
            return repr(v)

    parts = []
    for prop in settings.bl_rna.properties:
        name = prop.identifier
        if name in VIEW_ONLY_SETTINGS:
            continue
        if name == "references":
            for ref in settings.references:
                parts.append("|".join(value(ref, n) for n in REFERENCE_FINGERPRINT))
            continue
        parts.append(f"{name}={value(settings, name)}")
    return hashlib.sha1("\n".join(parts).encode("utf-8")).hexdigest()[:16]


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
        update=_mode_update,
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
    repeat: FloatProperty(
        name="Repeat", default=1.0, min=0.01, soft_min=0.25, max=1000.0, soft_max=16.0, step=10,
        description="How many times the texture repeats across the object's UVs (the Mapping "
                    "node's scale in the Texture Forge frame); changes the look at once, "
                    "without generating again",
        update=_repeat_update)
    keep_source_size: BoolProperty(
        name="Keep Photo's Size", default=True,
        description="Make Seamless at the source photo's own size (no resampling); untick to "
                    "choose a size")
    quality: EnumProperty(
        name="Quality",
        items=_items(QUALITIES, _QUALITY_TEXT),
        default="default",
    )
    method: EnumProperty(
        name="Method",
        items=_method_items,
        default=0,  # nn: dynamic items take the item's number
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

    height_from: EnumProperty(
        name="Height From",
        description="What the height, normal, roughness and AO maps are read from",
        items=_items(HEIGHT_SOURCES, _HEIGHT_FROM_TEXT),
        default=HEIGHT_SOURCES[0],
    )
    light_from: EnumProperty(
        name="Light From",
        description="Where the light in the picture comes from, for maps read from its shading",
        items=[("AUTO", "Automatic", "Find the light's direction from the picture's shading"),
               ("ANGLE", "Angle", "Say where the light comes from, when Automatic reads the relief "
                                  "upside down (dents come out as bumps)")],
        default="AUTO",
    )
    light_angle: FloatProperty(
        name="Light Angle", default=135.0, min=-MAX_LIGHT_ANGLE, max=MAX_LIGHT_ANGLE, soft_min=0.0,
        soft_max=MAX_LIGHT_ANGLE, precision=0, step=500,
        description="Where the light comes from in the picture, in degrees counter-clockwise: "
                    "0 = from the right, 90 = from the top, 135 = from the upper left, 180 = from the left")

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
    # The outcome of the last job on this material ("Done in 12.3 s", "Cancelled", "Failed: …")
    # with the settings it belongs to. Stored on the material, so undo takes it back with the
    # result it describes.
    outcome: StringProperty(name="Outcome", default="", options={"HIDDEN"})
    outcome_settings: StringProperty(name="Outcome Settings", default="", options={"HIDDEN"})
    #: Changes with every applied result (restored by undo with it): keys the panel's preview.
    result_token: StringProperty(name="Result Token", default="", options={"HIDDEN"})
    preview_tiled: BoolProperty(name="Tiled 2×2", default=False,
                                description="Show the result preview repeated 2 × 2, to see the seams")

    def selected_maps(self) -> list[str]:
        return [m for m in MAP_NAMES if getattr(self, "map_" + m)]

    def derives_maps(self) -> bool:
        """Whether a map read from the colour is asked for: only then do Height From and Light
        From change anything (the panel greys them out otherwise)."""
        return any(getattr(self, "map_" + m) for m in DERIVED_MAPS)

    def job_light_angle(self) -> float | str | None:
        """The job contract's ``light_angle`` for Height From and Light From: None for Brightness
        (the luminance heuristic), "auto" or the angle in degrees for Shading."""
        if self.height_from == "luminance":
            return None
        return "auto" if self.light_from == "AUTO" else float(self.light_angle)

    def set_job_light_angle(self, value: float | str | None) -> None:
        """The inverse of :meth:`job_light_angle` (a bake manifest's ``light_angle``, checked by the
        contract before it comes here)."""
        if value is None:
            self.height_from = "luminance"
            return
        self.height_from = "shading"
        if value == "auto":
            self.light_from = "AUTO"
        else:
            self.light_from, self.light_angle = "ANGLE", float(value)

    def set_outcome(self, text: str, fingerprint: str | None = None) -> None:
        """Record a job's outcome for the settings it ran with (``fingerprint``, taken when it
        started; default: the current ones). See :func:`settings_fingerprint`."""
        self.outcome = text
        self.outcome_settings = fingerprint or settings_fingerprint(self)

    def current_outcome(self) -> str:
        """The last outcome, or "" once the settings have changed since (or there is none)."""
        if not self.outcome or self.outcome_settings != settings_fingerprint(self):
            return ""
        return self.outcome


# ---------------------------------------------------------------------- Heal (Image Editor)

class TextureForgeHealSettings(bpy.types.PropertyGroup):
    """The Image Editor's Heal: which mask fills the image shown, and where the result goes.

    Stored on the scene (``scene.texture_forge_heal``): a heal is about images, not a material.
    """

    mask: PointerProperty(name="Mask", type=bpy.types.Image,
                          description="White = fill; the size of the image shown")
    target: EnumProperty(
        name="Result",
        items=[("SAME", "This Image", "Write the healed pixels into the image shown, as one undo step"),
               ("NEW", "New Image", "Write the healed image into a new image; the one shown stays as it is")],
        default="SAME")


CLASSES = (TextureForgeReference, TextureForgeSettings, TextureForgeHealSettings)


def register_properties() -> None:
    bpy.types.Material.texture_forge = PointerProperty(type=TextureForgeSettings)
    bpy.types.Scene.texture_forge_heal = PointerProperty(type=TextureForgeHealSettings)


def unregister_properties() -> None:
    if hasattr(bpy.types.Scene, "texture_forge_heal"):
        del bpy.types.Scene.texture_forge_heal
    if hasattr(bpy.types.Material, "texture_forge"):
        del bpy.types.Material.texture_forge
