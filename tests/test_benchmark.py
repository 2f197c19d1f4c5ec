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
    from stylenet.bench.train import run_isolated, train_table

    tiny = {"size": 32, "batch": 2, "steps": 1, "width": 4, "blocks": 1}
    rows = [run_isolated({**tiny, "path": "baseline"}),
            run_isolated({**tiny, "path": "stylenet fp32", "checkpointing": True, "channels_last": True})]
    assert all(r["images_per_s"] > 0 and r["peak_mib"] > 100 for r in rows)
    table = train_table(rows)
    assert "| baseline | 32 | 2 |" in table and "1.00x" in table
