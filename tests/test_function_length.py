"""No function over MAX_LINES lines in texture_addon/ or scripts/ unless the allow-list names it.

A long function mixes several steps, so a reader has to hold them all at once and a change to one
risks the others. The allow-list is short (at most MAX_ALLOWED) and says for each why it is still
long; an entry for a function that has since become short fails too, so the list only shrinks.
Run ``python tests/test_function_length.py`` to print every function over the limit.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("texture_addon", "scripts")
MAX_LINES = 60
MAX_ALLOWED = 6

#: "path::function" → why it is still over MAX_LINES lines.
ALLOWED: dict[str, str] = {}


def long_functions(root: Path = ROOT, limit: int = MAX_LINES) -> dict[str, int]:
    """``path::name`` → lines, for every function (methods and nested ones included) over ``limit`` lines."""
    found = {}
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > limit:
                        found[f"{path.relative_to(root).as_posix()}::{node.name}"] = lines
    return found


def test_no_function_over_the_limit_outside_the_allow_list() -> None:
    extra = {k: v for k, v in long_functions().items() if k not in ALLOWED}
    assert not extra, (f"functions over {MAX_LINES} lines: {extra}; split them into functions that each "
                       f"do one thing (docs/contributing.md)")


def test_the_allow_list_is_short_and_current() -> None:
    assert len(ALLOWED) <= MAX_ALLOWED
    assert all(reason.strip() for reason in ALLOWED.values())
    stale = sorted(set(ALLOWED) - set(long_functions()))
    assert not stale, f"no longer over {MAX_LINES} lines: remove {stale} from ALLOWED"


def test_the_counter_sees_a_long_function(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_LINES))
    (tmp_path / "scripts" / "long.py").write_text("def long():\n" + body + "\n\ndef short():\n    pass\n")
    assert long_functions(tmp_path) == {"scripts/long.py::long": MAX_LINES + 1}


if __name__ == "__main__":
    for name, lines in sorted(long_functions().items(), key=lambda kv: -kv[1]):
        print(f"{lines:4d}  {name}{'' if name not in ALLOWED else '  (allowed: ' + ALLOWED[name] + ')'}")
    sys.exit(0)
