"""Ctrl+C in the scripts that run for minutes (export, evaluate, Gatys, calibrate, demo, styles_sheet, benchmark):
one line saying what was kept, exit 130, no traceback and no half-written file. (stylize.py and the video script:
test_stylize_cli.py, test_video.py.)"""
import importlib.util

import pytest

from conftest import ROOT, SAMPLE


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def test_export_keeps_the_files_it_finished(tmp_path, monkeypatch, capsys):
    import stylenet.export_cli as script  # (scripts/export.py calls its main)

    real = script.export_model

    def first_format_then_ctrl_c(model, out, formats, *args, **kwargs):
        real(model, out, formats[:1], *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(script, "export_model", first_format_then_ctrl_c)
    out = tmp_path / "out"
    model = ROOT / "stylenet" / "pretrained" / "starry_night.safetensors"
    assert script.main(["--model", str(model), "--format", "safetensors", "onnx", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert err == f"interrupted: each file already in {out} is complete (written atomically); a rerun writes them all again\n"
    assert [p.name for p in out.iterdir()] == ["starry_night.safetensors"]  # no temporary file left beside it
    from stylenet.export import load_transformer
    load_transformer(out / "starry_night.safetensors")


@pytest.mark.parametrize("name, patched, argv", [
    ("evaluate", "evaluate", ["--model", "starry_night", "--count", "1", "--size", "32"]),
    ("gatys", "stylize_by_optimization", ["--content", str(next(SAMPLE.glob("*.jpg"))), "--style", "wave",
                                          "--size", "32"]),
    ("calibrate", "sweep_style_weights", ["--style", "wave", "--count", "1", "--size", "32"]),
    ("demo", "demo_sheet", ["--model", "starry_night", "--photos", str(next(SAMPLE.glob("*.jpg"))), "--size", "32"]),
    ("styles_sheet", "styles_sheet", ["--model", "zoo", "--count", "1", "--size", "32"]),
])
def test_evaluate_gatys_and_calibrate_write_nothing(name, patched, argv, tmp_path, monkeypatch, capsys):
    script = load_script(name)
    monkeypatch.setattr(script, patched, interrupt)
    out = tmp_path / {"evaluate": "eval", "gatys": "gatys.png", "calibrate": "sheet"}.get(name, "sheet.png")
    assert script.main([*argv, "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert err.startswith("interrupted: nothing was written") and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_benchmark_records_nothing(monkeypatch, capsys):
    import stylenet.bench.cli as cli

    def record(*args, **kwargs):
        raise AssertionError("an interrupted benchmark must not touch docs/BENCHMARKS.md")

    monkeypatch.setattr(cli, "bench_inference", interrupt)
    monkeypatch.setattr(cli, "record", record)
    assert load_script("benchmark").main(["infer", "--sizes", "16", "--no-compile"]) == 130
    err = capsys.readouterr().err
    assert err == "interrupted: nothing was recorded in docs/BENCHMARKS.md (a table is written only when its run completes)\n"
