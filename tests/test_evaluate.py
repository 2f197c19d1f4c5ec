import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from stylenet.quality.calibrate import sweep_style_weights
from stylenet.style_files import load_loss_settings
from stylenet.quality.scoring import load_photos
from stylenet.export import save_stylizer
from stylenet.image import load_image
from stylenet.models import TransformerNet

from conftest import ROOT, SAMPLE, STYLES, run_here

LOSS = {"content_layers": {"relu2_2": 1.0}, "style_layers": {"relu1_2": 0.3, "relu2_2": 1.0}, "content_weight": 1.0,
        "style_weight": 1.0, "tv_weight": 0.0, "vgg_weights": "caffe"}
HEIGHT, GAP = 40, 8  # contact sheet row height given to the scripts, and quality.sheet.contact_sheet's default gap


def model(path, style):
    net = TransformerNet(width=4, num_res_blocks=1).eval()
    return save_stylizer(net, path, style=style, style_image=f"{style}.jpg", style_size=64, **LOSS)


def run(script, *args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / script), *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)


def scaled_width(image) -> int:
    h, w = image.shape[-2:]
    return max(1, round(w * HEIGHT / h))


def check_sheet(png, column_widths, rows):
    """Size of a contact sheet with these column widths and `rows` rows, and a label over each column."""
    sheet = np.asarray(Image.open(png).convert("L"))
    assert sheet.shape[1] == sum(column_widths) + GAP * (len(column_widths) + 1)
    assert sheet.shape[0] > rows * HEIGHT and sheet.shape[0] < (rows + 1) * (HEIGHT + 3 * 20 + GAP)
    x = GAP
    for w in column_widths:
        header = sheet[GAP:GAP + 16, x:x + w]
        assert (header < 100).any(), f"no label over the column at x={x}"
        x += w + GAP


def test_evaluate_writes_numbers_and_a_labelled_sheet(tmp_path):
    a = model(tmp_path / "starry.safetensors", "starry_night")
    b = model(tmp_path / "scream.safetensors", "the_scream")
    photos = sorted(SAMPLE.glob("*.jpg"))[:2]
    proc = run("evaluate.py", "--model", a, b, "--photos", *photos, "--size", 32, "--gatys-iterations", 2,
               "--height", HEIGHT, "--device", "cpu", "--out", tmp_path / "eval")
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    names = [m["name"] for m in data["methods"]]
    assert names == ["starry.safetensors", "gatys lbfgs 2 it (starry_night)", "scream.safetensors",
                     "gatys lbfgs 2 it (the_scream)"]
    for m in data["methods"]:
        assert [r["photo"] for r in m["per_image"]] == [p.name for p in photos]
        for r in m["per_image"]:
            assert r["total"] == pytest.approx(r["content"] + r["style"] + r["tv"], rel=1e-5) and r["ms"] > 0
        assert m["mean"]["total"] == pytest.approx(sum(r["total"] for r in m["per_image"]) / 2)
    # the Gatys baseline optimises the loss the random networks were never trained on: far lower
    assert data["methods"][1]["mean"]["total"] < data["methods"][0]["mean"]["total"]
    rows = list(csv.DictReader((tmp_path / "eval" / "evaluation.csv").open()))
    assert len(rows) == 4 * 3 and [r["photo"] for r in rows[:3]] == [photos[0].name, photos[1].name, "mean"]
    # columns: content, then per style: style image, model, Gatys
    content = max(scaled_width(load_image(p, 32)) for p in photos)
    style = [scaled_width(load_image(STYLES / f"{s}.jpg", 512)) for s in ("starry_night", "the_scream")]
    check_sheet(tmp_path / "eval" / "evaluation.png", [content, style[0], content, content, style[1], content, content], 2)


def test_evaluate_bad_inputs_are_one_line_errors(tmp_path):
    a = model(tmp_path / "starry.safetensors", "starry_night")
    (tmp_path / "junk.safetensors").write_bytes(b"not a model")
    for args, message in [(["--model", tmp_path / "junk.safetensors"], "junk.safetensors"),
                          (["--model", a, "--style", tmp_path / "missing.jpg"], "missing.jpg"),
                          (["--model", a, "--photos", tmp_path / "nowhere"], "nowhere"),
                          (["--model", a, "--style", tmp_path / "junk.safetensors"], "is not a readable image")]:
        proc = run_here(ROOT / "scripts" / "evaluate.py", [*args, "--size", 32, "--out", tmp_path / "eval"])
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_model_without_loss_settings_uses_the_default_loss_with_a_warning(tmp_path):
    bare = save_stylizer(TransformerNet(width=4, num_res_blocks=1), tmp_path / "bare.safetensors", style="starry_night",
                         style_image="starry_night.jpg")
    proc = run("evaluate.py", "--model", bare, "--photos", sorted(SAMPLE.glob("*.jpg"))[0], "--size", 32,
               "--out", tmp_path / "eval")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "metadata has no content_layers" in proc.stderr
    data = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert data["methods"][0]["loss"] == load_loss_settings()


def test_style_weight_sweep_trades_content_for_style():
    photos = load_photos([sorted(SAMPLE.glob("*.jpg"))[0]], 1, 32)
    numbers, images = sweep_style_weights(STYLES / "starry_night.jpg", photos, [0.01, 100.0], LOSS, style_size=64,
                                          iterations=5, device="cpu", progress=False)
    low, high = numbers
    assert high["style"] < low["style"] and high["content"] > low["content"], numbers
    assert len(images) == 1 and len(images[0]) == 2 + 2


def test_calibrate_script_writes_sheet_and_numbers(tmp_path):
    photos = sorted(SAMPLE.glob("*.jpg"))[:2]
    proc = run("calibrate.py", "--style", "starry_night", "--photos", *photos, "--size", 32, "--iterations", 2,
               "--weights", 0.5, 2, "--height", HEIGHT, "--device", "cpu", "--out", tmp_path / "cal")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "style.weight=<value>" in proc.stdout
    rows = list(csv.DictReader((tmp_path / "cal" / "calibration.csv").open()))
    assert [(r["photo"], float(r["style.weight"])) for r in rows] == [(p.name, w) for p in photos for w in (0.5, 2.0)]
    data = json.loads((tmp_path / "cal" / "calibration.json").read_text())
    assert data["loss"] == load_loss_settings() and len(data["results"]) == 4
    content = max(scaled_width(load_image(p, 32)) for p in photos)
    style = scaled_width(load_image(STYLES / "starry_night.jpg", 512))
    check_sheet(tmp_path / "cal" / "calibration.png", [content, style, content, content], 2)
    proc = run_here(ROOT / "scripts" / "calibrate.py", ["--style", "starry_night", "--weights", 0, "--out", tmp_path / "cal"])
    assert proc.returncode == 2 and "positive" in proc.stderr


def test_models_with_the_same_file_name_are_told_apart_by_their_folder():
    from stylenet.quality.evaluate import _label

    runs = ["runs/light/starry_night.safetensors", "runs/johnson/starry_night.safetensors", "zoo.safetensors"]
    assert [_label(m, runs) for m in runs] == ["light/starry_night.safetensors", "johnson/starry_night.safetensors",
                                              "zoo.safetensors"]
