"""Chapter parameters: read the parameters file and check it against what each chapter declares.

A chapter declares its parameters in the cell tagged `parameters`, with annotations
(`horizon_year: int = 2030`). papermill accepts any name silently, so names and types are checked here,
before anything runs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import jupytext
import papermill
import yaml

from crobook.data import Problem

# Set by the build from its --data option, never from the parameters file.
RESERVED = {"data_dir", "views_dir", "previous_dir", "manifest_path"}
TYPES = {
    "int": (int,),
    "float": (float, int),
    "str": (str,),
    "bool": (bool,),
    "None": (type(None),),
    "list": (list,),
    "dict": (dict,),
}


class ParamsError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def declared(chapter: Path) -> dict[str, dict]:
    """Parameters a MyST-markdown chapter declares: name -> {type, default, help}."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{chapter.stem}.ipynb"
        jupytext.write(jupytext.read(chapter), path)
        found = papermill.inspect_notebook(str(path))
    return {
        name: {"type": p["inferred_type_name"], "default": p["default"], "help": p["help"]} for name, p in found.items()
    }


def _type_ok(value, type_name: str) -> bool:
    names = [n.strip() for n in type_name.replace("Optional[", "None|").rstrip("]").split("|")]
    allowed = tuple(t for n in names for t in TYPES.get(n, ()))
    if not allowed:  # no usable annotation: accept anything
        return True
    if isinstance(value, bool) and bool not in allowed:
        return False
    return isinstance(value, allowed)


def load_params(path: Path, chapters: dict[str, Path]) -> dict[str, dict]:
    """Parameters per chapter from a YAML file, checked against each chapter's declared parameters."""
    name = str(path)
    if not path.is_file():
        raise ParamsError([Problem(name, None, None, "parameters file not found")])
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        row = mark.line + 1 if mark else None
        reason = getattr(err, "problem", None) or "invalid YAML"
        raise ParamsError([Problem(name, row, None, f"YAML syntax error: {reason}")]) from None
    except UnicodeDecodeError:
        raise ParamsError([Problem(name, None, None, "file is not UTF-8 text")]) from None
    if not isinstance(raw, dict):
        raise ParamsError([Problem(name, None, None, "expected a mapping of chapter names to parameters")])
    problems, result = [], {stem: {} for stem in chapters}
    for chapter, values in raw.items():
        if chapter not in chapters:
            problems.append(
                Problem(name, None, str(chapter), "unknown chapter; expected one of " + ", ".join(sorted(chapters)))
            )
            continue
        if not isinstance(values, dict):
            problems.append(Problem(name, None, chapter, "expected a mapping of parameter names to values"))
            continue
        known = declared(chapters[chapter])
        for key, value in values.items():
            where = f"{chapter}.{key}"
            if key in RESERVED:
                problems.append(Problem(name, None, where, "set by the build (--data), not by the parameters file"))
            elif key not in known:
                names = ", ".join(sorted(set(known) - RESERVED)) or "none"
                problems.append(Problem(name, None, where, f"unknown parameter; chapter {chapter} accepts: {names}"))
            elif not _type_ok(value, known[key]["type"]):
                problems.append(
                    Problem(name, None, where, f"expected {known[key]['type']}, got {type(value).__name__} {value!r}")
                )
            else:
                result[chapter][key] = value
    if problems:
        raise ParamsError(problems)
    return result
