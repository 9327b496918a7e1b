"""Our part of a material's node tree: image nodes in a labelled frame, wired into the shader.

Rules that keep the artist's work safe:

* Every node we create carries the custom property ``texture_forge_role``; we only ever modify or
  delete nodes that carry it. On regenerate the same nodes are found by role and updated in place.
* We connect into the Principled BSDF that feeds the active Material Output (creating one, tagged,
  only when the tree has none). Links into the inputs we drive (Base Color, Roughness, Normal, and
  Displacement when chosen) are replaced; the artist's nodes that fed them stay in the tree.
* Values the artist may tune on our nodes (bump strength, AO mix factor after creation, node
  positions) are set when the node is created and left alone afterwards, except the AO factor
  which follows the panel's AO Strength.

Wiring: base colour → (AO multiply) → Base Color; roughness → Roughness; normal → Normal Map →
Normal; height → Bump (fed by the Normal Map) → Normal, or → Displacement → Material Output.
Scale: Texture Coordinate (UV) → Mapping → every image node's Vector; the Mapping's scale is the
panel's *Repeat* (X and Y). An image node's Vector that the artist has wired to a node of their own
keeps that link.
"""

from __future__ import annotations

from typing import Iterable

import bpy

from ..contract.vocabulary import MAP_LABELS, MAP_NAMES

ROLE_KEY = "texture_forge_role"
FRAME_LABEL = "Texture Forge"
_TEX_LABELS = MAP_LABELS


def our_nodes(tree: bpy.types.NodeTree) -> dict[str, bpy.types.Node]:
    """Our nodes in ``tree`` by role."""
    return {n[ROLE_KEY]: n for n in tree.nodes if n.get(ROLE_KEY)}


def _new_node(tree: bpy.types.NodeTree, role: str, bl_idname: str, label: str,
              location: tuple[float, float], parent: bpy.types.Node | None) -> bpy.types.Node:
    node = tree.nodes.new(bl_idname)
    node[ROLE_KEY] = role
    node.label = label
    node.name = label if label.startswith(FRAME_LABEL) else f"{FRAME_LABEL} {label}"
    node.location = location
    if parent is not None:
        node.parent = parent
    return node


def _remove(tree: bpy.types.NodeTree, node: bpy.types.Node | None) -> None:
    if node is not None and node.get(ROLE_KEY):
        tree.nodes.remove(node)


def find_output(tree: bpy.types.NodeTree) -> bpy.types.Node | None:
    """The Material Output Blender renders with (the active one), if any."""
    outputs = [n for n in tree.nodes if n.bl_idname == "ShaderNodeOutputMaterial"]
    for n in outputs:
        if n.is_active_output:
            return n
    return outputs[0] if outputs else None


def find_principled(tree: bpy.types.NodeTree,
                    output: bpy.types.Node | None) -> bpy.types.Node | None:
    """The Principled BSDF feeding the output's Surface, else the first one in the tree."""
    if output is not None:
        for link in output.inputs["Surface"].links:
            if link.from_node.bl_idname == "ShaderNodeBsdfPrincipled":
                return link.from_node
    for n in tree.nodes:
        if n.bl_idname == "ShaderNodeBsdfPrincipled":
            return n
    return None


def _link(tree: bpy.types.NodeTree, out_socket: bpy.types.NodeSocket,
          in_socket: bpy.types.NodeSocket) -> None:
    """Link, unless exactly this link already exists (keeps regenerate from churning links)."""
    for link in in_socket.links:
        if link.from_socket == out_socket:
            return
    tree.links.new(out_socket, in_socket)


def _socket(sockets: Iterable[bpy.types.NodeSocket], identifier: str) -> bpy.types.NodeSocket:
    for s in sockets:
        if s.identifier == identifier:
            return s
    raise KeyError(identifier)


def set_repeat(material: bpy.types.Material, repeat: float) -> bool:
    """Set our Mapping node's X/Y scale to ``repeat``; False when the material has none yet."""
    tree = material.node_tree
    mapping = our_nodes(tree).get("mapping") if tree is not None else None
    if mapping is None:
        return False
    _set_scale(mapping, repeat)
    return True


def _set_scale(mapping: bpy.types.Node, repeat: float) -> None:
    scale = mapping.inputs["Scale"]
    if tuple(scale.default_value[:2]) != (repeat, repeat):  # no needless depsgraph update
        scale.default_value = (repeat, repeat, scale.default_value[2])


def _wire_mapping(tree: bpy.types.NodeTree, nodes: dict[str, bpy.types.Node], frame: bpy.types.Node,
                  base: tuple[float, float], repeat: float) -> None:
    """Texture Coordinate (UV) → Mapping → the Vector of each of our image nodes."""
    texes = [n for role, n in nodes.items() if role.startswith("tex_")]
    if not texes:
        for role in ("mapping", "texcoord"):
            _remove(tree, nodes.pop(role, None))
        return
    x, y = base
    if "texcoord" not in nodes:
        nodes["texcoord"] = _new_node(tree, "texcoord", "ShaderNodeTexCoord", "Texture Coordinate",
                                      (x - 450.0, y), frame)
    if "mapping" not in nodes:
        mapping = _new_node(tree, "mapping", "ShaderNodeMapping", "Mapping", (x - 250.0, y), frame)
        nodes["mapping"] = mapping
    mapping = nodes["mapping"]
    _set_scale(mapping, repeat)
    _link(tree, nodes["texcoord"].outputs["UV"], mapping.inputs["Vector"])
    for tex in texes:
        vector = tex.inputs["Vector"]
        if any(not link.from_node.get(ROLE_KEY) for link in vector.links):
            continue  # the artist's own coordinates: theirs to keep
        _link(tree, mapping.outputs["Vector"], vector)


def _node_tree(material: bpy.types.Material) -> bpy.types.NodeTree:
    """The material's node tree, nodes switched on first where a pre-5.0 material has none yet."""
    tree = material.node_tree
    if tree is None:  # pre-5.0 materials may have no tree until use_nodes is switched on
        material.use_nodes = True
        tree = material.node_tree
    return tree


def _output_and_bsdf(tree: bpy.types.NodeTree, nodes: dict[str, bpy.types.Node]) -> tuple[bpy.types.Node, bpy.types.Node]:
    """The material's output and Principled BSDF: the artist's own where present, ours created otherwise."""
    output = find_output(tree)
    if output is None:
        output = _new_node(tree, "output", "ShaderNodeOutputMaterial", "Material Output",
                           (300.0, 0.0), None)
        nodes["output"] = output
    bsdf = find_principled(tree, output)
    if bsdf is None:
        bsdf = _new_node(tree, "bsdf", "ShaderNodeBsdfPrincipled", "Principled BSDF",
                         (output.location.x - 300.0, output.location.y), None)
        nodes["bsdf"] = bsdf
        _link(tree, bsdf.outputs["BSDF"], output.inputs["Surface"])
    return output, bsdf


def _frame(tree: bpy.types.NodeTree, nodes: dict[str, bpy.types.Node]) -> bpy.types.Node:
    """Our frame, which keeps our nodes together and apart from the artist's."""
    frame = nodes.get("frame")
    if frame is None:
        frame = _new_node(tree, "frame", "NodeFrame", FRAME_LABEL, (0.0, 0.0), None)
        frame.label_size = 20
        nodes["frame"] = frame
    return frame


def _wire_image_nodes(tree: bpy.types.NodeTree, nodes: dict[str, bpy.types.Node], images: dict[str, bpy.types.Image],
                      frame: bpy.types.Node, base: tuple[float, float]) -> None:
    """One image node per produced map, updated in place (an unchanged image is not reassigned); others removed."""
    base_x, base_y = base
    for i, map_name in enumerate(MAP_NAMES):
        role = "tex_" + map_name
        if map_name in images:
            node = nodes.get(role)
            if node is None:
                node = _new_node(tree, role, "ShaderNodeTexImage", _TEX_LABELS[map_name],
                                 (base_x, base_y - 280.0 * i), frame)
                nodes[role] = node
            if node.image != images[map_name]:
                node.image = images[map_name]
        else:
            _remove(tree, nodes.pop(role, None))


def _wanted_helpers(has: set[str], height_mode: str, ao_strength: float) -> dict[str, bool]:
    """Which helper nodes (normal map, bump, displacement, AO multiply) the produced maps call for."""
    return {
        "normal_map": "normal" in has,
        "bump": "height" in has and height_mode == "BUMP",
        "displacement": "height" in has and height_mode == "DISPLACEMENT",
        "ao_mix": "ao" in has and "basecolor" in has and ao_strength > 0.0,
    }


def _update_helpers(tree: bpy.types.NodeTree, nodes: dict[str, bpy.types.Node], wanted: dict[str, bool],
                    frame: bpy.types.Node, base: tuple[float, float]) -> None:
    """Remove the helper nodes no longer wanted and create the missing wanted ones (existing ones keep the artist's edits)."""
    for role, want in wanted.items():
        if not want:
            _remove(tree, nodes.pop(role, None))
    base_x, base_y = base
    helper_x = base_x + 400.0
    if wanted["ao_mix"] and "ao_mix" not in nodes:
        mix = _new_node(tree, "ao_mix", "ShaderNodeMix", "AO Multiply", (helper_x, base_y), frame)
        mix.data_type = "RGBA"
        mix.blend_type = "MULTIPLY"
        mix.clamp_result = True
        nodes["ao_mix"] = mix
    if wanted["normal_map"] and "normal_map" not in nodes:
        nodes["normal_map"] = _new_node(tree, "normal_map", "ShaderNodeNormalMap", "Normal Map",
                                        (helper_x, base_y - 560.0), frame)
    if wanted["bump"] and "bump" not in nodes:
        bump = _new_node(tree, "bump", "ShaderNodeBump", "Bump", (helper_x + 250.0, base_y - 400.0),
                         frame)
        bump.inputs["Strength"].default_value = 0.5
        nodes["bump"] = bump
    if wanted["displacement"] and "displacement" not in nodes:
        disp = _new_node(tree, "displacement", "ShaderNodeDisplacement", "Displacement",
                         (helper_x, base_y - 280.0), frame)
        disp.inputs["Scale"].default_value = 0.05
        nodes["displacement"] = disp


def _link_surface(tree: bpy.types.NodeTree, nodes: dict[str, bpy.types.Node], has: set[str],
                  bsdf: bpy.types.Node, ao_strength: float) -> None:
    """Base colour (multiplied by AO where wanted) and roughness into the BSDF."""
    if "basecolor" in has:
        color = nodes["tex_basecolor"].outputs["Color"]
        if "ao_mix" in nodes:
            mix = nodes["ao_mix"]
            mix.inputs[0].default_value = ao_strength
            _link(tree, color, _socket(mix.inputs, "A_Color"))
            _link(tree, nodes["tex_ao"].outputs["Color"], _socket(mix.inputs, "B_Color"))
            color = _socket(mix.outputs, "Result_Color")
        _link(tree, color, bsdf.inputs["Base Color"])
    if "roughness" in has:
        _link(tree, nodes["tex_roughness"].outputs["Color"], bsdf.inputs["Roughness"])


def _link_relief(tree: bpy.types.NodeTree, nodes: dict[str, bpy.types.Node], material: bpy.types.Material,
                 bsdf: bpy.types.Node, output: bpy.types.Node) -> None:
    """Normal map, then bump on top of it, into the BSDF's Normal; height into the output's Displacement."""
    normal_vec = None
    if "normal_map" in nodes:
        _link(tree, nodes["tex_normal"].outputs["Color"], nodes["normal_map"].inputs["Color"])
        normal_vec = nodes["normal_map"].outputs["Normal"]
    if "bump" in nodes:
        bump = nodes["bump"]
        _link(tree, nodes["tex_height"].outputs["Color"], bump.inputs["Height"])
        if normal_vec is not None:
            _link(tree, normal_vec, bump.inputs["Normal"])
        else:
            for link in list(bump.inputs["Normal"].links):
                tree.links.remove(link)
        normal_vec = bump.outputs["Normal"]
    if normal_vec is not None:
        _link(tree, normal_vec, bsdf.inputs["Normal"])
    if "displacement" in nodes:
        disp = nodes["displacement"]
        _link(tree, nodes["tex_height"].outputs["Color"], disp.inputs["Height"])
        _link(tree, disp.outputs["Displacement"], output.inputs["Displacement"])
        if hasattr(material, "displacement_method"):
            material.displacement_method = "BOTH"


def wire_material(material: bpy.types.Material, images: dict[str, bpy.types.Image],
                  height_mode: str = "BUMP", ao_strength: float = 0.5,
                  repeat: float | None = None) -> dict[str, bpy.types.Node]:
    """Create or update our nodes so that ``images`` (map name → image) drive the material.

    Maps missing from ``images`` lose their nodes (ours only). ``repeat`` (default: the material's
    *Repeat* setting) scales the UVs. Returns our nodes by role. The links are derived from
    scratch every time, so regenerating is idempotent.
    """
    if repeat is None:
        settings = getattr(material, "texture_forge", None)
        repeat = float(settings.repeat) if settings is not None else 1.0
    tree = _node_tree(material)
    nodes = our_nodes(tree)
    output, bsdf = _output_and_bsdf(tree, nodes)
    frame = _frame(tree, nodes)
    base = (bsdf.location.x - 1000.0, bsdf.location.y)
    _wire_image_nodes(tree, nodes, images, frame, base)
    _wire_mapping(tree, nodes, frame, base, repeat)
    has = set(images)
    _update_helpers(tree, nodes, _wanted_helpers(has, height_mode, ao_strength), frame, base)
    _link_surface(tree, nodes, has, bsdf, ao_strength)
    _link_relief(tree, nodes, material, bsdf, output)
    return nodes


def material_map_images(material: bpy.types.Material) -> dict[str, bpy.types.Image]:
    """The image textures that act as maps in ``material`` (for "From Material" mode).

    Follows the wiring this module makes and the usual hand-made equivalents: images found upstream
    of Base Color, Roughness, a Normal Map's Color, a Bump's Height or a Displacement's Height, plus
    our own tagged AO node.
    """
    tree = material.node_tree
    if tree is None:
        return {}
    found: dict[str, bpy.types.Image] = {}

    def upstream_image(socket: bpy.types.NodeSocket, depth: int = 0) -> bpy.types.Image | None:
        for link in socket.links:
            node = link.from_node
            if node.bl_idname == "ShaderNodeTexImage" and node.image is not None:
                return node.image
            if depth < 4:
                for inp in node.inputs:
                    if inp.is_linked and inp.type in ("RGBA", "VALUE"):
                        img = upstream_image(inp, depth + 1)
                        if img is not None:
                            return img
        return None

    output = find_output(tree)
    bsdf = find_principled(tree, output)
    if bsdf is not None:
        for map_name, socket_name in (("basecolor", "Base Color"), ("roughness", "Roughness")):
            img = upstream_image(bsdf.inputs[socket_name])
            if img is not None:
                found[map_name] = img
    for node in tree.nodes:
        if node.bl_idname == "ShaderNodeNormalMap" and "normal" not in found:
            img = upstream_image(node.inputs["Color"])
            if img is not None:
                found["normal"] = img
        elif node.bl_idname in ("ShaderNodeBump", "ShaderNodeDisplacement") and "height" not in found:
            img = upstream_image(node.inputs["Height"])
            if img is not None:
                found["height"] = img
        elif node.get(ROLE_KEY) == "tex_ao" and node.image is not None:
            found["ao"] = node.image
    return found
