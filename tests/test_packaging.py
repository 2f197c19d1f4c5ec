"""pyproject.toml names its packages one by one: a new subpackage missing from the list would be left out of a
built wheel (an editable install still finds it, so nothing else here would notice)."""
import tomllib

from conftest import ROOT


def test_every_subpackage_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "stylenet").rglob("__init__.py")}
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    missing = [name for name in listed if not (ROOT / name.replace(".", "/")).is_dir()]  # pretrained: data only
    assert missing == [], "pyproject.toml lists packages that do not exist"


def test_every_script_prints_its_help(capsys):
    """``--help`` of each script and of each benchmark (argparse formats help strings with %: a bare '%' in
    one crashes ``--help`` with a TypeError, as evaluate_video.py's once did)."""
    import runpy
    import sys

    import pytest

    commands = [[str(p), "--help"] for p in sorted((ROOT / "scripts").glob("*.py"))]
    commands += [[str(ROOT / "scripts" / "benchmark.py"), what, "--help"] for what in ("infer", "train", "loader", "video", "merge")]
    argv = sys.argv
    try:
        for command in commands:
            sys.argv = command
            with pytest.raises(SystemExit) as done:
                runpy.run_path(command[0], run_name="__main__")
            assert done.value.code in (0, None), command
            assert "usage:" in capsys.readouterr().out, command
    finally:
        sys.argv = argv


def test_console_scripts_name_callable_mains():
    """[project.scripts] entry points (stylenet-stylize, ...) resolve to functions taking argv."""
    import importlib
    import inspect

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert {"stylenet-stylize", "stylenet-video", "stylenet-app"} <= set(scripts)
    for name, target in scripts.items():
        module, _, attr = target.partition(":")
        main = getattr(importlib.import_module(module), attr)
        assert callable(main) and "argv" in inspect.signature(main).parameters, name
