"""train.py's command line before Hydra reads it: ``style=`` names a bundled painting (conf/style/<name>.yaml)
or, here, your own painting's file.

``style=~/paintings/my painting.jpg`` becomes ``style.image='<its absolute path>' style.name=my_painting``
(the run folder's and the exported model's name; the bundled styles' size 384 and weight 1 stay), so that
training any painting is one argument, as ``styles=[...]`` already takes image paths. A ``style=`` that is
neither gets one line naming the closest bundled painting, instead of Hydra's multi-line listing. The
rewritten arguments are what DDP's other ranks are started with (Lightning re-runs ``sys.argv``)."""
from __future__ import annotations

import re
from pathlib import Path

from .image import IMAGE_EXTENSIONS
from .paths import meant
from .style_files import bundled_styles


def _quoted(value: str) -> str:
    """A Hydra override value: as it is when plain, else single-quoted (Hydra's grammar: spaces, '=', ',')."""
    if re.fullmatch(r"[A-Za-z0-9_./~+-]+", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def own_painting(args: list[str]) -> list[str]:
    """``args`` with a ``style=<image file>`` rewritten (above); ValueError (one line) for a ``style=`` that
    is neither a bundled painting nor an image file. Sweeps (``--multirun``, ``style=a,b``) go to Hydra as
    they are."""
    if any(a in ("-m", "--multirun") for a in args):
        return list(args)
    bundled = bundled_styles()
    given = {a.split("=", 1)[0] for a in args if "=" in a}
    out: list[str] = []
    for arg in args:
        key, _, value = arg.partition("=")
        if key != "style" or not value or value in bundled or value.startswith("[") or "," in value:
            out.append(arg)
            continue
        path = Path(value).expanduser()
        if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS:
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem).strip("_.") or "style"
            out += [f"style.image={_quoted(str(path.resolve()))}"] if "style.image" not in given else []
            out += [f"style.name={name}"] if "style.name" not in given else []
            continue
        if path.suffix or "/" in value:
            what = "a folder" if path.is_dir() else "not an image file" if path.exists() else "no such file"
            raise ValueError(f"style={value}: {what} (for your own painting, give an image file: "
                             f"{', '.join(IMAGE_EXTENSIONS)})")
        close = meant(value, bundled)
        hint = f"did you mean style={close}? " if close else ""
        raise ValueError(f"style={value}: not a bundled painting ({', '.join(bundled)}): {hint}For your own "
                         "painting, give its file: style=path/to/painting.jpg")
    return out
