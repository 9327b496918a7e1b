#!/usr/bin/env bash
# Print, as the last line, the path of an executable that runs a real Blender >= 4.2.
#
# Why: the add-on must be tested in Blender itself, not only in the `bpy` module (Blender does not
# ignore SIGPIPE, has its own Python without numpy on Debian, its own extension CLI and a UI loop).
#
#   $BLENDER set      -> checked (>= 4.2) and printed as is.
#   otherwise (root)  -> a minimal Debian 13 (trixie) root filesystem with Debian's `blender`
#                        package, Xvfb, Mesa and ImageMagick is built once under
#                        ${XDG_CACHE_HOME:-$HOME/.cache}/texture-forge/blender-trixie (about 2-3
#                        minutes and 1.5 GB; a completion marker means a half-built root is never
#                        used; concurrent callers wait on a lock), and a wrapper is printed.
#
# The wrapper runs that Blender in a private mount namespace (unshare -m; every mount vanishes with
# the last process, so nothing leaks and concurrent runs do not interfere) chrooted into the root,
# with /proc, /sys, /dev, /tmp, $HOME, this repository and the working folder visible at the same
# paths, and the caller's environment passed through. The host's own root is visible at /run/host:
# unless the caller set TEXTURE_FORGE_PYTHON, it points at a small script that runs the engine with
# this repository's .venv Python *on the host* (chroot /run/host), so the pinned torch is used
# as is, whatever interpreter the venv was built from, and nothing is downloaded per run.
#
#   WRAPPER [blender args...]           run Blender
#   WRAPPER --xvfb [blender args...]    run Blender on a fresh virtual display (xvfb-run -a)
#   WRAPPER --run CMD [args...]         run another program inside (xdotool, import, python3, ...)
#
# When no Blender can be had, exits 1 with one line on stderr saying why.
set -uo pipefail

RECIPE="trixie-2 blender python3-numpy xvfb xauth libgl1-mesa-dri imagemagick xdotool tesseract-ocr tesseract-ocr-eng"
PACKAGES="blender python3-numpy xvfb xauth libgl1-mesa-dri imagemagick xdotool tesseract-ocr tesseract-ocr-eng"

fail() { echo "get_blender.sh: $*" >&2; exit 1; }

version_ok() {  # version_ok "Blender 4.3.2" -> true for >= 4.2
  local v major minor
  v=$(printf '%s\n' "$1" | sed -n 's/^Blender \([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\1 \2/p' | head -1)
  [ -n "$v" ] || return 1
  read -r major minor <<<"$v"
  [ "$major" -gt 4 ] || { [ "$major" -eq 4 ] && [ "$minor" -ge 2 ]; }
}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

# ------------------------------------------------------------------ an explicit Blender
if [ -n "${BLENDER:-}" ]; then
  exe=$(command -v -- "$BLENDER" 2>/dev/null) || fail "BLENDER=$BLENDER is not an executable"
  out=$("$exe" --version 2>/dev/null | head -5)
  case "$exe" in /*) ;; *) exe="$(cd "$(dirname "$exe")" && pwd -P)/$(basename "$exe")" ;; esac
  version_ok "$out" || fail "BLENDER=$BLENDER is not Blender >= 4.2 (it says: $(printf '%s' "$out" | head -1))"
  # The same interface as the root filesystem's wrapper (--xvfb, --run), on this machine's programs.
  CACHE="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/texture-forge"
  BIN="$CACHE/bin/host-$(printf '%s' "$exe" | cksum | cut -d' ' -f1)"
  mkdir -p "$BIN" || fail "cannot create $BIN"
  {
    echo '#!/usr/bin/env bash'
    echo "# Runs $exe (BLENDER, checked by scripts/get_blender.sh); --xvfb and --run as in its root wrapper."
    echo "EXE='$exe'"
    [ -x "$REPO/.venv/bin/python" ] && echo "export TEXTURE_FORGE_PYTHON=\"\${TEXTURE_FORGE_PYTHON-$REPO/.venv/bin/python}\""
    echo 'case "${1:-}" in'
    echo '  --xvfb) shift; exec xvfb-run -a -s "-screen 0 ${TEXTURE_FORGE_SCREEN:-1600x1000x24}" "$EXE" "$@" ;;'
    echo '  --run) shift; exec "$@" ;;'
    echo 'esac'
    echo 'exec "$EXE" "$@"'
  } >"$BIN/blender.tmp.$$" && chmod +x "$BIN/blender.tmp.$$" && mv -f "$BIN/blender.tmp.$$" "$BIN/blender" \
    || fail "cannot write $BIN/blender"
  echo "$BIN/blender"
  exit 0
fi

# ------------------------------------------------------------------ the Debian 13 root filesystem
[ "$(id -u)" -eq 0 ] || fail "no Blender: set BLENDER=/path/to/blender (4.2 or newer), or run as root to build a Debian 13 root filesystem with one"
command -v unshare >/dev/null && command -v chroot >/dev/null && command -v flock >/dev/null \
  || fail "no Blender: unshare, chroot and flock (util-linux, coreutils) are needed to build one; or set BLENDER"
unshare -m true 2>/dev/null || fail "no Blender: cannot create a mount namespace (unshare -m needs CAP_SYS_ADMIN); set BLENDER=/path/to/blender"

CACHE="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/texture-forge"
ROOTFS="$CACHE/blender-trixie"
MARKER="$ROOTFS/.texture-forge-complete"
LOG="$CACHE/blender-trixie.log"
mkdir -p "$CACHE" || fail "no Blender: cannot create $CACHE"

mirror_uri() {  # the Debian mirror this machine already uses (same network rules), else deb.debian.org
  local uri
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v -- '-security' | head -1)
  [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
                          | awk '{for (i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' | grep -v -- '-security' | head -1)
  case "$uri" in *debian*|*mirror*) ;; *) uri="" ;; esac
  echo "${uri:-http://deb.debian.org/debian}"
}

build_rootfs() {  # runs under the lock; output goes to $LOG
  local partial="$ROOTFS.partial" mirror
  # Never delete through a mount (a bind of /tmp or $HOME would lose real files): every mount of
  # ours lives in a private namespace, so one here means something else is wrong.
  if grep -qF " $CACHE/" /proc/self/mounts 2>/dev/null; then
    echo "refusing to rebuild: something is mounted under $CACHE"; return 1
  fi
  rm -rf --one-file-system "$partial" "$ROOTFS"
  if ! command -v debootstrap >/dev/null; then
    command -v apt-get >/dev/null || { echo "debootstrap is missing and there is no apt-get to install it"; return 1; }
    echo "== installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap \
      || { DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap; } \
      || { echo "apt-get could not install debootstrap"; return 1; }
  fi
  mirror=$(mirror_uri)
  echo "== debootstrap trixie from $mirror"
  # In a private mount namespace: the /proc and /sys debootstrap mounts vanish even if it fails.
  unshare -m -- debootstrap --variant=minbase trixie "$partial" "$mirror" || { echo "debootstrap failed"; return 1; }
  cp -L /etc/resolv.conf "$partial/etc/resolv.conf" 2>/dev/null || true
  ln -sf /proc/self/mounts "$partial/etc/mtab"  # Blender lists mounted file systems for its file browser
  echo "== apt-get install $PACKAGES"
  unshare -m -- /bin/sh -c '
      set -e
      R="$1"; shift
      mount -t proc proc "$R/proc"
      mount --rbind /sys "$R/sys"
      mount --rbind /dev "$R/dev"
      chroot "$R" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
          PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
          apt-get install -y -q --no-install-recommends "$@"
      chroot "$R" apt-get clean
  ' sh "$partial" $PACKAGES || { echo "apt-get install in the root filesystem failed"; return 1; }
  local v
  v=$(chroot "$partial" /usr/bin/blender --version 2>/dev/null | head -1)
  echo "== $v"
  version_ok "$v" || { echo "the root filesystem's blender is not >= 4.2: $v"; return 1; }
  echo "$RECIPE" > "$partial/.texture-forge-complete"
  mv "$partial" "$ROOTFS"
}

if [ "$(cat "$MARKER" 2>/dev/null)" != "$RECIPE" ]; then
  exec 9>"$CACHE/blender-trixie.lock" || fail "no Blender: cannot open $CACHE/blender-trixie.lock"
  flock 9
  if [ "$(cat "$MARKER" 2>/dev/null)" != "$RECIPE" ]; then
    if ! build_rootfs >"$LOG" 2>&1; then
      why=$(grep -v '^ *$' "$LOG" | tail -1)
      fail "no Blender: building the Debian 13 root filesystem failed (${why:-see log}); full log: $LOG"
    fi
  fi
  exec 9>&-
fi

# ------------------------------------------------------------------ the wrapper
ENGINE_PY="$REPO/.venv/bin/python"
[ -x "$ENGINE_PY" ] || ENGINE_PY=$(command -v python3 || echo python3)
id=$(printf '%s' "$REPO" | cksum | cut -d' ' -f1)
BIN="$CACHE/bin/$id"
mkdir -p "$BIN" || fail "no Blender: cannot create $BIN"

# The engine runs on the host: the pipes to Blender survive the chroot, the paths are the same.
cat >"$BIN/engine-python.tmp.$$" <<EOF
#!/bin/sh
# Runs the Texture Forge engine's Python on the host from inside the Blender root filesystem.
exec chroot /run/host /bin/sh -c 'cd "\$0" 2>/dev/null || cd /; exec "\$@"' "\$PWD" "$ENGINE_PY" "\$@"
EOF

cat >"$BIN/blender.tmp.$$" <<EOF
#!/usr/bin/env bash
# Runs Debian 13's Blender from $ROOTFS (made by scripts/get_blender.sh).
ROOTFS='$ROOTFS'
REPO='$REPO'
ENGINE='$BIN/engine-python'
EOF
cat >>"$BIN/blender.tmp.$$" <<'EOF'
if [ -z "${_TEXTURE_FORGE_NS:-}" ]; then
  [ -f "$ROOTFS/.texture-forge-complete" ] || { echo "blender wrapper: $ROOTFS is incomplete; run scripts/get_blender.sh" >&2; exit 1; }
  _TEXTURE_FORGE_NS=1 exec unshare -m -- "$0" "$@"
fi
unset _TEXTURE_FORGE_NS
[ -e "$ROOTFS/etc/mtab" ] || ln -sf /proc/self/mounts "$ROOTFS/etc/mtab" 2>/dev/null
set -e
mount --rbind / "$ROOTFS/run/host" 2>/dev/null || { mkdir -p "$ROOTFS/run/host"; mount --rbind / "$ROOTFS/run/host"; }
mount --rbind /proc "$ROOTFS/proc"
mount --rbind /sys "$ROOTFS/sys"
mount --rbind /dev "$ROOTFS/dev"
bound=()
bind() {  # bind a host folder at the same path inside, unless already visible
  local p="$1" b
  [ -n "$p" ] && [ "$p" != / ] && [ -d "$p" ] || return 0
  p=$(cd "$p" && pwd -P)
  for b in "${bound[@]}"; do case "$p/" in "$b"/*) return 0 ;; esac; done
  mkdir -p "$ROOTFS$p"
  mount --rbind "$p" "$ROOTFS$p"
  bound+=("$p")
}
bind /tmp
bind "${HOME:-}"
bind "$REPO"
bind "$PWD"
set +e
export TEXTURE_FORGE_PYTHON="${TEXTURE_FORGE_PYTHON-$ENGINE}"
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
mode=blender
case "${1:-}" in
  --xvfb) mode=xvfb; shift ;;
  --run) mode=run; shift ;;
esac
case "$mode" in
  blender) set -- /usr/bin/blender "$@" ;;
  xvfb) set -- xvfb-run -a -s "-screen 0 ${TEXTURE_FORGE_SCREEN:-1600x1000x24}" /usr/bin/blender "$@" ;;
esac
exec chroot "$ROOTFS" /bin/sh -c 'cd "$0" 2>/dev/null || cd /; exec "$@"' "$PWD" "$@"
EOF
chmod +x "$BIN/blender.tmp.$$" "$BIN/engine-python.tmp.$$"
mv -f "$BIN/engine-python.tmp.$$" "$BIN/engine-python"
mv -f "$BIN/blender.tmp.$$" "$BIN/blender"
echo "$BIN/blender"
