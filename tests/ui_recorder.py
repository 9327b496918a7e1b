"""A stand-in for ``bpy.types.UILayout`` for the Blender scenarios that draw the add-on's panel.

``bpy`` without a window has no layout to draw into, so the panel tests hand the panel's draw
function a ``Recorder`` that writes down what would be drawn. ``RECORDER`` is scenario source
(it runs inside the bpy process): prepend it to a scenario body given to
``test_blender_harness.run_scenario``. One entry per drawn item,
``(kind, name, live, shown, width, rna_type, compact)``: ``kind`` label / prop / operator / list /
template_ID / icon / progress; ``name`` the label's text, the property's or operator's identifier,
the icon's value or the progress text; ``live`` whether every enclosing layout is active;
``shown`` the words the artist reads (a property's or button's label); ``width`` the pixels its
layout has (a box takes 12, a grid's columns and a split share theirs); for a property its RNA
type and whether it is drawn without its label (expanded or as an icon).
"""

from __future__ import annotations

import textwrap

RECORDER = textwrap.dedent('''
    class Recorder:
        """Stands in for bpy.types.UILayout: records what would be drawn, where, and whether it is active."""
        def __init__(self, log, parent=None, width=300):
            self.log, self.parent, self.active, self.width = log, parent, True, width
            self.alert = False; self.scale_y = 1.0; self.enabled = True
        def live(self): return self.active and (self.parent is None or self.parent.live())
        def _add(self, kind, name="", shown="", rna_type="", compact=False):
            self.log.append((kind, name, self.live(), shown, self.width, rna_type, compact))
        def _child(self, width=None): return Recorder(self.log, self, self.width if width is None else width)
        def row(self, align=False, **k): return self._child()
        def column(self, align=False, **k): return self._child()
        def box(self): return self._child(self.width - 12)
        def grid_flow(self, columns=0, **k): return self._child(self.width / max(1, columns))
        def split(self, factor=0.5, **k): return self._child(self.width * factor)
        def separator(self, **k): pass
        def label(self, text="", **k): self._add("label", text, text)
        def prop(self, data, name, text=None, expand=False, icon_only=False, **k):
            rna = data.bl_rna.properties[name]
            self._add("prop", name, rna.name if text is None else text, rna.type, bool(expand or icon_only))
        def operator(self, idname, text=None, **k):
            self._add("operator", idname, idname if text is None else text)
            return type("Props", (), {})()
        def template_list(self, *a, **k): self._add("list")
        def template_ID(self, *a, **k): self._add("template_ID")
        def template_icon(self, icon_value=0, **k): self._add("icon", str(icon_value))
        def progress(self, text="", **k): self._add("progress", text, text)
        def icon(self, data): return 0

    class Ctx:
        """Stands in for bpy.context in a sidebar ``width`` px wide showing ``material``."""
        def __init__(self, material, width=300):
            self.material = material; self.object = None; self.space_data = None
            self.region = type("R", (), {"width": width})()
            self.preferences = bpy.context.preferences

    def recorded(material, width=300):
        """What the add-on's panel draws for ``material`` in a sidebar ``width`` px wide."""
        log = []
        panels = sys.modules[MODULE + ".texture_addon.blender.panels"]
        panels.draw_texture_forge(Recorder(log, width=width), Ctx(material, width))
        return log
''')
