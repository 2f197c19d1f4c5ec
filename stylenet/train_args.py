"""train.py's command line before Hydra reads it: ``style=`` names a bundled painting (conf/style/<name>.yaml)
or, here, your own painting's file.

``style=~/paintings/my painting.jpg`` becomes ``style.image='<its absolute path>'``; the style's name (the run
folder's and the exported model's) follows from the file, ``my_painting`` (conf/style/*.yaml:
``name: ${painting_name:${.image}}``), and the bundled styles' size 384 and weight 1 stay. So training any
painting is one argument, as ``styles=[...]`` already takes image paths, and a sweep over paintings,
``--multirun style=a.jpg,b.jpg``, becomes a sweep over ``style.image`` (one run per painting, each named after
it). A ``style=`` that is neither gets one line naming the closest bundled painting, instead of Hydra's
multi-line listing, and so does an option of another config group that does not exist (``model=``, ``data=``, ...:
Hydra's listing; ``experiment=``, an optional group: silently ignored by Hydra, the run going on without
it). The rewritten arguments are what DDP's other ranks are started with (Lightning re-runs
``sys.argv``)."""
from __future__ import annotations

import re
from pathlib import Path

from .image import IMAGE_EXTENSIONS
from .paths import CONF_DIR, meant
from .style_files import bundled_styles


def _quoted(value: str) -> str:
    """A Hydra override value: as it is when plain, else single-quoted (Hydra's grammar: spaces, '=', ',')."""
    if re.fullmatch(r"[A-Za-z0-9_./~+-]+", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _painting(value: str, bundled: list[str]) -> Path | None:
    """The image file ``value`` names (absolute), None for a bundled painting's name; ValueError (one line)
    for anything else."""
    if value in bundled:
        return None
    path = Path(value).expanduser()
    if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS:
        return path.resolve()
    if path.suffix or "/" in value:
        what = "a folder" if path.is_dir() else "not an image file" if path.exists() else "no such file"
        raise ValueError(f"style={value}: {what} (for your own painting, give an image file: "
                         f"{', '.join(IMAGE_EXTENSIONS)})")
    close = meant(value, bundled)
    hint = f"did you mean style={close}? " if close else ""
    raise ValueError(f"style={value}: not a bundled painting ({', '.join(bundled)}): {hint}For your own "
                     "painting, give its file: style=path/to/painting.jpg")


def own_painting(args: list[str]) -> list[str]:
    """``args`` with a ``style=<image file>`` rewritten (above), and in a sweep (``--multirun``) a
    ``style=a.jpg,b.jpg`` of files; ValueError (one line) for a ``style=`` that is neither a bundled painting
    nor an image file, or a sweep mixing both (Hydra sweeps one key: give them as two sweeps). Sweeps of
    bundled names, lists (``style=[a,b]``, refused by train.py) and Hydra's sweep functions pass as they are."""
    sweep = any(a in ("-m", "--multirun") for a in args)
    bundled = bundled_styles()
    out: list[str] = []
    for arg in args:
        key, _, value = arg.partition("=")
        if key != "style" or not value or value.startswith("[") or re.match(r"^\w+\(", value):
            out.append(arg)
            continue
        whole = Path(value).expanduser()
        values = value.split(",") if "," in value and not whole.is_file() else [value]
        if len(values) > 1 and not sweep:
            out.append(arg)  # Hydra says a comma list needs --multirun
            continue
        files = [_painting(v.strip(), bundled) for v in values]
        if all(f is None for f in files):
            out.append(arg)
        elif any(f is None for f in files):
            names = [v for v, f in zip(values, files) if f is None]
            raise ValueError(f"style={value}: a sweep over bundled paintings ({', '.join(names)}) and files at once; "
                             "give them as two sweeps (--multirun style=a,b and --multirun style=a.jpg,b.jpg)")
        else:
            out.append("style.image=" + ",".join(_quoted(str(f)) for f in files))
    return out


def check_groups(args: list[str]) -> None:
    """ValueError (one line, the closest option named) for ``group=option`` naming no ``conf/<group>/<option>.yaml``
    (every group but ``style``, which :func:`own_painting` checks). Sweeps (``--multirun model=light,johnson``)
    are checked per option, and ``null`` refused; ``+``/``~`` and package (``@``) overrides and sweep functions pass."""
    if any(a.lstrip("+").startswith("hydra.searchpath") or a.split("=")[0] in ("-cd", "--config-dir", "-cp",
                                                                                "--config-path") for a in args):
        return  # other config folders: their groups and options are Hydra's to find
    sweep = any(a in ("-m", "--multirun") for a in args)
    groups = {p.name: sorted(f.stem for f in p.glob("*.yaml")) for p in CONF_DIR.iterdir()
              if p.is_dir() and p.name != "style"} if CONF_DIR.is_dir() else {}
    for arg in args:
        key, _, value = arg.partition("=")
        if key not in groups or not value or re.match(r"^\w+\(", value):
            continue
        if value == "null":  # (Hydra: a traceback) the preset group is optional: no preset is no argument
            raise ValueError(f"{key}=null: {key} takes one of conf/{key}/ ({', '.join(groups[key])})"
                             + ("; for none, leave it out" if key == "experiment" else ""))
        for option in (o.strip() for o in (value.split(",") if sweep else [value])):
            if option not in groups[key]:
                close = meant(option, groups[key])
                hint = f": did you mean {key}={close}?" if close else ""
                raise ValueError(f"{key}={option}: not one of conf/{key}/ ({', '.join(groups[key])}){hint}")
