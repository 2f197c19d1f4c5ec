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
