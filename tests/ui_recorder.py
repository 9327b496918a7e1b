"""A stand-in for ``bpy.types.UILayout`` for the Blender scenarios that draw the add-on's panel.

``bpy`` without a window has no layout to draw into, so the panel tests hand the panel's draw
function a ``Recorder`` that writes down what would be drawn. ``RECORDER`` is scenario source
(it runs inside the bpy process): prepend it to a scenario body given to
``test_blender_harness.run_scenario``. One entry per drawn item, ``(kind, name, live, shown)``:
``kind`` label / prop / operator / list / template_ID / icon / progress; ``name`` the label's text,
the property's or operator's identifier, the icon's value or the progress text; ``live`` whether
every enclosing layout is active; ``shown`` a property's label as the artist reads it.
"""

from __future__ import annotations

import textwrap

RECORDER = textwrap.dedent('''
    class Recorder:
        """Stands in for bpy.types.UILayout: records what would be drawn, and whether it is active."""
        def __init__(self, log, parent=None):
            self.log, self.parent, self.active = log, parent, True
            self.alert = False; self.scale_y = 1.0; self.enabled = True
        def live(self): return self.active and (self.parent is None or self.parent.live())
        def _add(self, kind, name="", shown=""): self.log.append((kind, name, self.live(), shown))
        def _child(self, *a, **k): return Recorder(self.log, self)
        row = column = box = grid_flow = split = _child
        def separator(self, **k): pass
        def label(self, text="", **k): self._add("label", text)
        def prop(self, data, name, text=None, **k):
            self._add("prop", name, data.bl_rna.properties[name].name if text is None else text)
        def operator(self, idname, **k):
            self._add("operator", idname)
            return type("Props", (), {})()
        def template_list(self, *a, **k): self._add("list")
        def template_ID(self, *a, **k): self._add("template_ID")
        def template_icon(self, icon_value=0, **k): self._add("icon", str(icon_value))
        def progress(self, text="", **k): self._add("progress", text)
        def icon(self, data): return 0

    class Ctx:
        """Stands in for bpy.context in a sidebar 300 px wide showing ``material``."""
        def __init__(self, material):
            self.material = material; self.object = None; self.space_data = None
            self.region = type("R", (), {"width": 300})()
            self.preferences = bpy.context.preferences

    def recorded(material):
        """What the add-on's panel draws for ``material``: the Recorder's entries."""
        log = []
        sys.modules[MODULE + ".texture_addon.blender.panels"].draw_texture_forge(Recorder(log), Ctx(material))
        return log
''')
