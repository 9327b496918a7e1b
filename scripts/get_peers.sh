#!/bin/sh
# Install the benchmark's peer tools (Debian/Ubuntu, as root; safe to run again):
#   - G'MIC (`gmic`, Debian package) for `syntexturize_matchpatch`;
#   - GIMP 2.10 (`gimp-console`) and the Resynthesizer plug-in, built from its source (tag v2.0.3,
#     the GIMP 2.10 series; Debian's gimp-plugin-registry no longer carries it).
# The plug-in's source is fetched at install time (or taken from RESYNTH_SRC, a local git checkout
# of github.com/bootchk/resynthesizer) and built in a temporary folder; nothing of it is kept here.
# RESYNTH_REBUILD=1 rebuilds the plug-in even when it is installed.
set -eu

RESYNTH_TAG=v2.0.3
RESYNTH_COMMIT=b10d6ed3a90a3be02dd338ea32bf44f1d08edafe
RESYNTH_URL=${RESYNTH_URL:-https://github.com/bootchk/resynthesizer.git}

if [ "$(id -u)" != 0 ]; then
    echo "get_peers.sh: run as root (it installs Debian packages): sudo $0" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive

need=""
command -v gmic >/dev/null 2>&1 || need="$need gmic"
command -v gimp-console >/dev/null 2>&1 || need="$need gimp"
if [ -n "$need" ]; then
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $need
fi

plugdir="/usr/lib/gimp/2.0/plug-ins/resynthesizer"
if [ -x "$plugdir/resynthesizer" ] && [ -z "${RESYNTH_REBUILD:-}" ]; then
    echo "Resynthesizer already installed: $plugdir/resynthesizer"
else
    apt-get install -y -q --no-install-recommends libgimp2.0-dev autoconf automake intltool gettext libtool \
        pkg-config make gcc git ca-certificates
    libdir=$(pkg-config --variable=gimplibdir gimp-2.0 2>/dev/null || echo /usr/lib/gimp/2.0)
    plugdir="$libdir/plug-ins/resynthesizer"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    git clone -q "${RESYNTH_SRC:-$RESYNTH_URL}" "$work/src"
    cd "$work/src"
    git -c advice.detachedHead=false checkout -q "$RESYNTH_TAG"
    if [ "$(git rev-parse HEAD)" != "$RESYNTH_COMMIT" ]; then
        echo "get_peers.sh: $RESYNTH_TAG is not commit $RESYNTH_COMMIT; refusing to build" >&2
        exit 1
    fi
    ./autogen.sh >"$work/build.log" 2>&1 && make -j2 >>"$work/build.log" 2>&1 || {
        tail -20 "$work/build.log" >&2
        echo "get_peers.sh: building Resynthesizer failed" >&2
        exit 1
    }
    install -D -m 755 src/resynthesizer/resynthesizer "$plugdir/resynthesizer"
    cd /
    echo "Resynthesizer installed: $plugdir/resynthesizer"
fi

# Prove the plug-in answers headless (what the benchmark does, on a 32² image).
check=$(mktemp -d)
python3 -c "
import zlib, struct, sys
w = h = 32
raw = b''.join(b'\0' + bytes(v for x in range(w) for v in (x * 8 % 256, y * 8 % 256, (x ^ y) * 8 % 256)) for y in range(h))
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
open(sys.argv[1], 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
" "$check/ref.png"
gimp-console -i -d -f -c -b "(let* ((ref (car (file-png-load 1 \"$check/ref.png\" \"$check/ref.png\"))) (corpus (car (gimp-image-get-active-drawable ref))) (img (car (gimp-image-new 32 32 RGB))) (layer (car (gimp-layer-new img 32 32 RGB-IMAGE \"out\" 100 LAYER-MODE-NORMAL)))) (gimp-image-insert-layer img layer 0 0) (plug-in-resynthesizer 1 img layer 1 1 0 corpus -1 -1 0.0 0.117 16 500) (file-png-save 1 img layer \"$check/out.png\" \"$check/out.png\" 0 9 0 0 0 0 0))" -b "(gimp-quit 0)" >/dev/null 2>&1 || true
if [ -s "$check/out.png" ]; then
    echo "peers ready: $(gmic version 2>&1 | grep -o 'Version [0-9.]*' | head -1 | sed 's/^/G'"'"'MIC /'), $(gimp-console --version), Resynthesizer $RESYNTH_TAG (headless call works)"
    rm -rf "$check"
else
    rm -rf "$check"
    echo "get_peers.sh: gimp-console could not run plug-in-resynthesizer headless" >&2
    exit 1
fi
