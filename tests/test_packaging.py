"""pyproject.toml names its packages one by one: a new subpackage missing from the list would be left out of a
built wheel (an editable install still finds it, so nothing else here would notice)."""
import tomllib

from conftest import ROOT


def test_every_subpackage_is_listed_in_pyproject():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed, mapped = set(setuptools["packages"]), setuptools.get("package-dir", {})
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "stylenet").rglob("__init__.py")}
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    # pretrained: data only; stylenet.assets.*: data/ folders mapped into the wheel
    missing = [name for name in listed if not (ROOT / mapped.get(name, name.replace(".", "/"))).is_dir()]
    assert missing == [], "pyproject.toml lists packages that do not exist"


def test_an_installed_wheel_works_without_a_checkout(tmp_path):
    """``pip install stylenet`` gives no conf/ and no data/: the built wheel must still hold every module, the
    bundled models, the bundled paintings (a name: ``--style-image wave``) with their SOURCES.md, the web app's
    8 sample photos with their credits, and the licence; run from another folder against that install alone."""
    import os
    import shutil
    import subprocess
    import sys
    import zipfile

    src = tmp_path / "src"  # a copy: setuptools builds in the source tree (build/), never in the checkout
    for part in ("pyproject.toml", "README.md", "LICENSE"):
        (src / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / part, src / part)
    shutil.copytree(ROOT / "stylenet", src / "stylenet", ignore=shutil.ignore_patterns("__pycache__", "assets"))
    for part in ("data/styles", "data/sample", "conf"):
        shutil.copytree(ROOT / part, src / part)
    quiet = {"capture_output": True, "text": True}
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path / "wheel"), str(src)], **quiet)
    assert built.returncode == 0, built.stderr[-2000:]
    assert "deprecated" not in built.stderr.lower(), built.stderr[-2000:]  # e.g. the licence table (fails 2027-02-18)
    wheel = next((tmp_path / "wheel").glob("stylenet-*.whl"))
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target",
                           str(site), str(wheel)], **quiet)
    assert done.returncode == 0, done.stderr[-2000:]
    probe = r"""
import stylenet, torch
from pathlib import Path
from stylenet.adain.stylizer import painting_path
from stylenet.app import ui
root = Path(stylenet.__file__).parent
assert root.parent == Path.cwd() / "site", root            # the install, not the checkout
assert not (root.parent / "conf").exists()
print("painting", painting_path("wave").relative_to(root))
print("sources", (root / "assets/styles/SOURCES.md").is_file(), (root / "assets/sample/CREDITS.csv").is_file())
print("samples", len(ui.SAMPLES), all(p.is_relative_to(root) for p in ui.SAMPLES))
out = stylenet.load_stylizer("adain", style="the_scream")(torch.rand(3, 40, 48))
print("adain", tuple(out.shape))
print("zoo", len(stylenet.load_stylizer("zoo").style_names))
"""
    env = {**os.environ, "PYTHONPATH": str(site)}
    ran = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, **quiet)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.split("\n")[:5] == ["painting assets/styles/wave.jpg", "sources True True", "samples 8 True",
                                          "adain (3, 40, 48)", "zoo 10"], ran.stdout
    assert any(n.endswith("licenses/LICENSE") for n in zipfile.ZipFile(wheel).namelist())
    # Training from the install alone (stylenet-train: its Hydra configs in the wheel), on a folder of one's photos.
    photos = tmp_path / "my photos"
    photos.mkdir()
    for photo in sorted((ROOT / "data" / "sample").glob("*.jpg"))[:6]:
        shutil.copy2(photo, photos / photo.name)
    assert (site / "bin" / "stylenet-train").is_file()
    trained = subprocess.run([sys.executable, "-m", "stylenet.train_cli", "style=wave", "data=folder",
                              f"data.root={photos}", "data.image_size=32", "data.batch_size=2", "data.num_workers=0",
                              "data.val_size=2", "model.width=4", "model.num_res_blocks=1", "style.size=64",
                              "trainer.max_steps=2", "trainer.val_check_interval=2", "trainer.accelerator=cpu",
                              "logger=none", "hydra.run.dir=run"], cwd=tmp_path, env=env, **quiet)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert (tmp_path / "run" / "wave.safetensors").is_file() and (tmp_path / "run" / "train.log").is_file()
    assert stylenet_style(tmp_path / "run" / "wave.safetensors", env) == "wave"
    missing = subprocess.run([sys.executable, "-m", "stylenet.train_cli", "hydra.run.dir=run2"], cwd=tmp_path, env=env,
                             **quiet)  # data=coco, the default: where to put it, or a folder of one's own
    assert missing.returncode == 2 and "data=folder data.root=" in missing.stderr.strip().splitlines()[-1], missing.stderr


def stylenet_style(model, env) -> str:
    import subprocess
    import sys

    probe = f"from stylenet.export import read_metadata; print(read_metadata({str(model)!r})['style'])"
    return subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True).stdout.strip()


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
    assert {"stylenet-train", "stylenet-stylize", "stylenet-video", "stylenet-app", "stylenet-export"} <= set(scripts)
    for name, target in scripts.items():
        module, _, attr = target.partition(":")
        main = getattr(importlib.import_module(module), attr)
        assert callable(main) and "argv" in inspect.signature(main).parameters, name
