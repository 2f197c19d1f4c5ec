import subprocess
import sys

import pytest
import torch

from stylenet.style_files import load_loss_settings
from stylenet.quality.gatys import GatysError, stylize_by_optimization
from stylenet.image import load_image
from stylenet.losses import PerceptualLoss

from conftest import ROOT, SAMPLE, STYLES, run_here


@pytest.fixture(scope="module")
def loss():
    loss = PerceptualLoss.from_settings(load_loss_settings())
    loss.set_style(load_image(STYLES / "starry_night.jpg", 64)[None])
    return loss


@pytest.fixture
def photo():
    return load_image(sorted(SAMPLE.glob("*.jpg"))[0], 48)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
@pytest.mark.parametrize("init", ["content", "noise"])
def test_optimisation_reduces_the_loss(loss, photo, optimizer, init):
    before = photo.clone()
    result = stylize_by_optimization(photo, loss, iterations=6, optimizer=optimizer, init=init, progress=False)
    assert torch.equal(photo, before)  # the caller's tensor is not modified
    assert result.image.shape == photo.shape and 0 <= result.image.min() and result.image.max() <= 1
    assert result.terms["total"] < 0.75 * result.history[0], (result.history[0], result.terms)
    # the reported terms are those of the returned image
    with torch.no_grad():
        again = loss(result.image[None], photo[None])
    assert float(again["total"]) == pytest.approx(result.terms["total"], rel=1e-4)
    assert result.iterations >= 1 and result.evaluations == len(result.history)


def test_noise_init_is_seeded(loss, photo):
    run = lambda seed: stylize_by_optimization(photo, loss, 1, "adam", "noise", seed=seed, progress=False).image
    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))


def test_multi_scale_starts_coarse_and_ends_at_full_size(loss, photo):
    result = stylize_by_optimization(photo, loss, iterations=3, optimizer="adam", coarse_sizes=(24,), progress=False)
    assert result.image.shape == photo.shape
    assert result.iterations == 6 and len(result.history) == 6
    single = stylize_by_optimization(photo, loss, iterations=3, optimizer="adam", progress=False)
    assert not torch.equal(result.image, single.image)  # the coarse pass changed the starting point


@pytest.mark.parametrize("kwargs, message", [
    ({"optimizer": "sgd"}, "optimizer"), ({"init": "zeros"}, "init"), ({"iterations": 0}, "iterations"),
    ({"coarse_sizes": (48,)}, "coarse sizes"), ({"coarse_sizes": (32, 24)}, "coarse sizes"),
])
def test_bad_arguments_are_named(loss, photo, kwargs, message):
    with pytest.raises(GatysError, match=message):
        stylize_by_optimization(photo, loss, **{"iterations": 1, **kwargs}, progress=False)
    with pytest.raises(GatysError, match="at least 16"):
        stylize_by_optimization(photo[:, :8], loss, 1, progress=False)


def test_script_writes_the_image_and_reports_bad_input(tmp_path):
    out = tmp_path / "gatys.png"
    photo = sorted(SAMPLE.glob("*.jpg"))[0]
    cmd = [sys.executable, str(ROOT / "scripts" / "gatys.py"), "--content", str(photo), "--size", "32",
           "--style-size", "64", "--iterations", "3", "--scales", "16"]
    proc = subprocess.run([*cmd, "--style", "starry_night", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "total" in proc.stdout and load_image(out).shape[-2:] == load_image(photo, 32).shape[-2:]
    proc = run_here(cmd[1], [*cmd[2:], "--style", "no_such_painting", "--out", str(out)])
    assert proc.returncode == 2 and "no_such_painting" in proc.stderr and "Traceback" not in proc.stderr
    (tmp_path / "notes.jpg").write_text("not an image")
    (tmp_path / "a_file").write_text("")
    for style, target, message in [(tmp_path / "notes.jpg", out, "style image '" + str(tmp_path / "notes.jpg") +
                                     "' is not a readable image"),
                                    ("starry_night", tmp_path / "out.txt", "the suffix sets the image format"),
                                    ("starry_night", tmp_path / "a_file" / "x.png", "cannot make the folder")]:
        # (the output is checked before the optimisation, so its minutes are never lost to a bad --out)
        proc = run_here(cmd[1], [*cmd[2:], "--style", str(style), "--out", str(target)])
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert "iterations" not in proc.stdout
    mine = tmp_path / "mine.jpg"  # the content photo named as --out: refused, untouched
    mine.write_bytes(photo.read_bytes())
    proc = run_here(cmd[1], ["--content", str(mine), *cmd[4:], "--style", "starry_night", "--out", str(mine)])
    assert proc.returncode == 2 and f"{mine} is an input: writing it would overwrite it" in proc.stderr
    assert mine.read_bytes() == photo.read_bytes()
