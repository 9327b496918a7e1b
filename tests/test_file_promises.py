"""What Texture Forge promises a farm and an artist about their files (docs/files.md), one test each.

Real processes where the promise is about processes (SIGTERM, SIGKILL, two writers at once), fault
injection where the fault cannot be made on demand (a full disk), 64² images throughout.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from texture_addon import cli, files
from texture_addon.errors import OutputError
from texture_addon.references import save_png

ROOT = Path(__file__).resolve().parents[1]
MAPS = ("ao.png", "basecolor.png", "height.png", "normal.png", "roughness.png")


def env() -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT), OMP_WAIT_POLICY="PASSIVE", PYTHONNOUSERSITE="1")


def swatch(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(path)
    return path


def contents(folder: Path) -> dict[str, bytes]:
    """Every entry of a folder with its bytes (hidden ones too: a leftover temporary shows)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def old_set(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    out = tmp_path / "maps"
    assert cli.main(["pbr", str(swatch(tmp_path / "old.png", 1)), "-o", str(out)]) == 0
    before = contents(out)
    assert sorted(before) == list(MAPS)
    return out, before


# --------------------------------------------------------------------------- writes are whole

def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("the artist's")
    with pytest.raises(RuntimeError):
        with files.atomic_write(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash while writing")
    assert contents(tmp_path) == {"a.txt": b"the artist's"}


def _disk_full_after(n: int, monkeypatch) -> None:
    """Pillow's save writes some bytes, then the disk is full, from the ``n``-th save on."""
    real = Image.Image.save
    count = [0]

    def save(self, fp, *args, **kwargs):
        count[0] += 1
        if count[0] < n:
            return real(self, fp, *args, **kwargs)
        with open(fp, "wb") as f:
            f.write(b"\x89PNG partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", save)


def test_disk_full_is_one_line_and_leaves_the_old_set_whole(tmp_path, monkeypatch, capsys):
    out, before = old_set(tmp_path)
    capsys.readouterr()
    _disk_full_after(3, monkeypatch)
    code = cli.main(["pbr", str(swatch(tmp_path / "new.png", 2)), "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and "disk full" in err[0] and "Traceback" not in err[0], err
    assert contents(out) == before


def test_disk_full_on_one_file_raises_one_clear_error(tmp_path, monkeypatch):
    target = tmp_path / "tile.png"
    target.write_bytes(b"previous")
    _disk_full_after(1, monkeypatch)
    with pytest.raises(OutputError, match=r"cannot write .*tile\.png: disk full"):
        save_png(target, np.zeros((64, 64, 3)))
    assert contents(tmp_path) == {"tile.png": b"previous"}


# --------------------------------------------------------------------------- signals

#: The CLI with Pillow slowed after its second save: a SIGTERM or SIGKILL lands mid-set.
SLOW_CLI = textwrap.dedent('''
    import sys, time
    import PIL.Image
    real, count = PIL.Image.Image.save, [0]
    def save(self, fp, *args, **kwargs):
        real(self, fp, *args, **kwargs)
        count[0] += 1
        if count[0] == 2:
            sys.stderr.write("@@STAGED@@\\n"); sys.stderr.flush()
            time.sleep(60)
    PIL.Image.Image.save = save
    from texture_addon.cli import main
    sys.exit(main(sys.argv[1:]))
''')


def start_slow_set(tmp_path: Path, out: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", SLOW_CLI, "pbr", str(swatch(tmp_path / "new.png", 2)),
                             "-o", str(out)], env=env(), stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "@@STAGED@@" in line:
            return proc
    proc.wait(30)
    pytest.fail("the slowed CLI ended before staging two maps:\n" + "".join(lines))


def test_sigterm_mid_set_leaves_the_old_set_whole_and_no_temporary(tmp_path):
    out, before = old_set(tmp_path)
    proc = start_slow_set(tmp_path, out)
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(30) == 128 + signal.SIGTERM
    assert rest.strip().splitlines() == ["terminated by SIGTERM; nothing partial was left"]
    assert contents(out) == before


def test_sighup_is_handled_like_sigterm(tmp_path):
    out, before = old_set(tmp_path)
    proc = start_slow_set(tmp_path, out)
    proc.send_signal(signal.SIGHUP)
    proc.stderr.read()
    assert proc.wait(30) == 128 + signal.SIGHUP
    assert contents(out) == before


def test_a_signal_during_the_final_renames_waits_for_them():
    reached = False
    with pytest.raises(files.Terminated):
        with files.terminate_cleanly():
            with files.deferred_signals():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)  # the handler has run by now: it must not raise in here
                reached = True
    assert reached
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored


def test_temporaries_of_a_killed_process_are_removed_by_the_next_run(tmp_path):
    out, _ = old_set(tmp_path)
    proc = start_slow_set(tmp_path, out)
    proc.kill()  # SIGKILL: no handler runs, the staged maps stay behind
    proc.wait(30)
    left = [p for p in out.iterdir() if p.name.startswith(".")]
    assert len(left) == len(MAPS) and all(p.name.endswith(".part") for p in left), left
    old = time.time() - files.STALE_AFTER - 5
    for p in left:
        os.utime(p, (old, old))
    proc = subprocess.run([sys.executable, "-m", "texture_addon", "pbr", str(tmp_path / "new.png"), "-o", str(out)],
                          env=env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == list(MAPS)


def test_a_fresh_temporary_of_a_live_writer_is_never_removed(tmp_path):
    tmp = files.new_temp(tmp_path / "x.png")  # ours, this process is alive
    old = time.time() - files.STALE_AFTER - 5
    os.utime(tmp, (old, old))
    other = tmp_path / ".x.png.tf1-abcdef-zz.part"  # not this host's: left for a week
    other.write_bytes(b"")
    os.utime(other, (old, old))
    assert files.clean_stale_parts(tmp_path) == []
    assert tmp.exists() and other.exists()


# --------------------------------------------------------------------------- permissions

def test_files_and_folders_get_the_umask_mode_not_a_private_one(tmp_path):
    out = tmp_path / "maps"
    proc = subprocess.run([sys.executable, "-m", "texture_addon", "pbr", str(swatch(tmp_path / "a.png", 1)),
                           "-o", str(out)], env=env(), capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: os.umask(0o027))
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {m: 0o640 for m in MAPS}


def test_a_shared_scratch_folder_has_the_umask_mode(tmp_path):
    from texture_addon import logs

    shared = logs.make_scratch_dir(str(tmp_path), ".tf-staging-", shared=True)
    private = logs.make_scratch_dir(str(tmp_path), "job-")
    assert stat.S_IMODE(os.stat(shared).st_mode) == files.folder_mode()
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o700


# --------------------------------------------------------------------------- unusable outputs

@pytest.mark.parametrize("command", ["synth", "seamless", "stylize", "pbr"])
def test_an_output_that_is_an_input_is_refused_and_nothing_written(tmp_path, capsys, command):
    ref = swatch(tmp_path / "ref.png", 3)
    content = swatch(tmp_path / "content.png", 4)
    if command == "pbr":  # the set's basecolor.png would replace the input
        ref = ref.rename(tmp_path / "basecolor.png")
    output = str(tmp_path if command == "pbr" else ref)
    args = {"synth": ["synth", str(ref), "-o", output, "--size", "64"],
            "seamless": ["seamless", str(ref), "-o", output],
            "stylize": ["stylize", str(content), "--style", str(ref), "-o", str(content)],  # over the content
            "pbr": ["pbr", str(ref), "-o", output]}[command]
    before = contents(tmp_path)
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is the input" in err[0], err
    assert contents(tmp_path) == before


@pytest.fixture
def read_only(tmp_path) -> Path:
    """A folder nothing can be created in: mode 0555, or for root a read-only tmpfs."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"cannot make a read-only folder as root: {proc.stderr.strip()}"
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_read_only_output_folder_is_reported_before_any_work(tmp_path, read_only, capsys, monkeypatch):
    import texture_addon.engine as engine

    def no_synthesis(*args, **kwargs):
        raise AssertionError("synthesis ran before the output folder was checked")

    monkeypatch.setattr(engine, "synthesize", no_synthesis)
    ref = swatch(tmp_path / "ref.png", 3)
    assert cli.main(["synth", str(ref), "-o", str(read_only / "out.png"), "--size", "64"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not writable" in err[0], err
    assert cli.main(["synth", str(ref), "--pbr", "-o", str(read_only / "maps"), "--size", "64"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not writable" in err[0], err
    assert list(read_only.iterdir()) == []


# --------------------------------------------------------------------------- concurrent writers

RECORD_WRITER = textwrap.dedent('''
    import sys
    from texture_addon import files
    path, tag = sys.argv[1], sys.argv[2]
    for i in range(150):
        files.update_json(path, lambda data, i=i: data.__setitem__(f"{tag}{i}", i))
''')


def test_two_processes_updating_one_record_lose_nothing(tmp_path):
    record = tmp_path / ".texture_forge_files.json"
    procs = [subprocess.Popen([sys.executable, "-c", RECORD_WRITER, str(record), tag], env=env(),
                              stderr=subprocess.PIPE, text=True) for tag in ("a", "b")]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert len(json.loads(record.read_text())) == 300
    assert sorted(p.name for p in tmp_path.iterdir()) == [record.name, record.name + ".lock"]


def test_temporary_names_are_unique_per_write(tmp_path):
    a, b = files.new_temp(tmp_path / "x.json"), files.new_temp(tmp_path / "x.json")
    assert a != b and a.exists() and b.exists()


# --------------------------------------------------------------------------- two scenes, one folder

@pytest.mark.blender
@pytest.mark.full  # two bake processes at once, the farm's case: full tier (tests/conftest.py)
def test_two_scenes_baked_at_once_in_one_folder_keep_their_own_textures(tmp_path):
    """X.blend and Y.blend beside each other, each with a material 'Wood', baked by two processes at
    once: each keeps its own //textures/<blend>/ files and record; a re-bake replaces its own."""
    from test_bake import BAKE, make_scene

    scenes = {n: make_scene(tmp_path / f"{n}.blend", {"Wood": str(ROOT / "examples" / ref)})
              for n, ref in (("X", "bricks.png"), ("Y", "wood.png"))}

    def start(name: str, *extra: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(BAKE), "--blend", str(scenes[name]), "--out",
                                 f"//raw_{name}", "--save", *extra], cwd=tmp_path, env=env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    procs = [start("X"), start("Y")]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    textures = tmp_path / "textures"
    assert sorted(p.name for p in textures.iterdir()) == ["X", "Y"]
    listing = {n: sorted(p.name for p in (textures / n).iterdir() if not p.name.startswith(".")) for n in "XY"}
    assert listing["X"] == listing["Y"] == sorted(f"Wood_{m}.png" for m in ("basecolor", "normal", "roughness"))
    assert (textures / "X" / "Wood_basecolor.png").read_bytes() != (textures / "Y" / "Wood_basecolor.png").read_bytes()
    for n in "XY":
        record = json.loads((textures / n / ".texture_forge_files.json").read_text())
        assert sorted(record) == listing[n]
        assert not [p for p in (textures / n).iterdir() if ".part" in p.name]
        for folder in (tmp_path / f"raw_{n}").iterdir():  # the material's raw maps: a normal folder
            assert stat.S_IMODE(folder.stat().st_mode) == files.folder_mode(), folder
    before = contents(textures / "Y")
    again = start("X", "--force")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-2000:]
    assert sorted(p.name for p in (textures / "X").iterdir() if not p.name.startswith(".")) == listing["X"]
    assert contents(textures / "Y") == before


@pytest.mark.blender
def test_sigterm_during_a_bake_ends_it_cleanly(tmp_path):
    """bake.py killed by SIGTERM while the engine runs: exit 143, JSON summary, no staging or
    temporary file left, the .blend untouched."""
    from test_bake import BAKE, make_scene

    blend = make_scene(tmp_path / "S.blend", {"Wood": str(ROOT / "examples" / "wood.png")})
    before = blend.read_bytes()
    proc = subprocess.Popen([sys.executable, str(BAKE), "--blend", str(blend), "--out", "//raw", "--save",
                             "--size", "512", "--quality", "default"], cwd=tmp_path, env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "[Wood] started" in line:
            break
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, "".join(seen) + err
    summary = json.loads(out)
    assert summary["ok"] is False and "SIGTERM" in summary["error"]
    assert [l for l in err.splitlines() if "Traceback" in l] == []
    assert [p.name for p in (tmp_path / "raw").iterdir()] == []  # no staging folder left
    assert not (tmp_path / "textures").exists() or not list((tmp_path / "textures").rglob("*.part"))
    assert blend.read_bytes() == before
