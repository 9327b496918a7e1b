#!/usr/bin/env bash
# md5 of every output a restructuring must leave byte-identical: the demo's textures, a 128² draft
# synth, pbr, seamless, and a two-material bake from a manifest. Run before and after a change
# and diff the two lists: scripts/output_md5s.sh /tmp/before > before.txt (then after.txt).
set -euo pipefail
out=${1:?usage: scripts/output_md5s.sh OUT_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-$root/.venv/bin/python}
mkdir -p "$out"
export OMP_WAIT_POLICY=PASSIVE PYTHONNOUSERSITE=1
cd "$root"
"$py" scripts/demo.py --out "$out/demo" > "$out/demo.log" 2>&1
"$py" -m texture_addon synth examples/bricks.png -o "$out/synth.png" --size 128 --quality draft 2> "$out/synth.log"
"$py" -m texture_addon pbr examples/stones.png -o "$out/pbr" 2> "$out/pbr.log"
"$py" -m texture_addon seamless examples/wood.png -o "$out/seamless.png" --quality draft 2> "$out/seamless.log"
cat > "$out/manifest.toml" <<TOML
[defaults]
size = 64
quality = "draft"
maps = ["basecolor", "normal", "roughness"]

[[materials]]
name = "M_Bricks"
refs = ["$root/examples/bricks.png"]

[[materials]]
name = "M_Mix"
refs = ["$root/examples/wood.png", "$root/examples/lichen.png"]
weights = [1.0, 0.5]
seed = 4
TOML
"$py" scripts/bake.py --manifest "$out/manifest.toml" --jobs 2 --out "$out/bake" > "$out/bake.json" 2> "$out/bake.log"
cd "$out"
find demo/textures demo/raw synth.png pbr seamless.png bake -name '*.png' -o -name '*.exr' | sort | xargs md5sum
