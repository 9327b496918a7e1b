#!/usr/bin/env bash
# md5 of every output a restructuring must leave byte-identical: the demo's textures, a 128² draft
# synth, pbr, seamless, every other CLI route (small, draft: weights, flatten, --pbr, --material,
# stylize, seamless's patch method), and a two-material bake from a manifest. Run before and after
# a change and diff the two lists: scripts/output_md5s.sh /tmp/before > before.txt (then after.txt).
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
# every other CLI route to the engine, small and draft
cli() { local log=$1; shift; "$py" -m texture_addon "$@" 2> "$out/$log.log"; }
mkdir -p "$out/cli"
cli mix synth examples/wood.png examples/lichen.png --weights 1,0.5 -o "$out/cli/mix.png" --size 96 --height 64 --quality draft --seed 3 --tile x
cli flat synth examples/stones.png --flatten -o "$out/cli/flat.png" --size 64 --quality draft --no-tile
cli stats synth examples/bricks.png --method patch -o "$out/cli/stats.png" --size 64 --quality draft
cli synthpbr synth examples/stones.png --pbr -o "$out/cli/synth_pbr" --size 64 --quality draft --light-angle 135
cli material synth --material basecolor=examples/bricks.png height=examples/stones.png -o "$out/cli/material" --size 64 --quality draft
cli photo synth --material basecolor=examples/stones.png --pbr --height-from luminance -o "$out/cli/photo" --size 64 --quality draft
cli lum pbr examples/wood.png -o "$out/cli/pbr_lum" --height-from luminance --no-tile --directx --normal-strength 2 --roughness-range 0.2,0.8
cli style stylize examples/wood.png --style examples/lichen.png examples/stones.png --weights 1,2 -o "$out/cli/style.png" --size 96 --quality draft --tile --strength 0.5
cli style_own stylize examples/wood.png --style examples/lichen.png -o "$out/cli/style_own.png" --quality draft --preserve-colors
cli band seamless examples/stones.png -o "$out/cli/band.png" --quality draft --method patch --band 0.2 --seed 2
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
find demo/textures demo/raw synth.png pbr seamless.png cli bake -name '*.png' -o -name '*.exr' | sort | xargs md5sum
