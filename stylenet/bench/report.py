"""A GPU run's results (stylenet.bench.gpu_run) as markdown: the issue's targets against what was
measured, the tables, and their sections in docs/BENCHMARKS.md."""
from __future__ import annotations

from pathlib import Path

from .common import BENCHMARKS_MD, record
from .infer import as_size, inference_table
from .profile import profile_table
from .train import train_table


ADAIN_TITLE = "## Inference (AdaIN, any painting, batch 1: decoder width 256, the painting's statistics computed once)"


def _best(rows: list[dict], **match) -> dict | None:
    rows = [r for r in rows if "error" not in r and all(r.get(k) == v for k, v in match.items())]
    return max(rows, key=lambda r: r["images_per_s"]) if rows else None


def _fastest(rows: list[dict], size: tuple[int, int]) -> dict | None:
    rows = [r for r in rows if as_size(r["size"]) == size]
    return min(rows, key=lambda r: r["ms"]) if rows else None


def targets(results: dict) -> list[tuple[str, str, str]]:
    """``(target, measured, verdict)`` for each of the issue's benchmark targets the run measured."""
    stages = results.get("stages", {})
    train_rows = stages.get("bench-train", {}).get("rows", [])
    infer_rows = [r for r in stages.get("bench-infer", {}).get("rows", []) if "model" not in r]  # the default network
    out = []
    best = max((r for r in train_rows if "error" not in r and r["size"] == 256 and r["path"] != "baseline"),
               key=lambda r: r["images_per_s"], default=None)
    base = _best(train_rows, path="baseline", size=256)
    if best:
        out.append(("training at 256 px >= 1,500 images/s", f"{best['images_per_s']:,.0f} images/s ({best['path']}, batch {best['batch']})",
                    "met" if best["images_per_s"] >= 1500 else "not met"))
    if best and base:
        ratio = best["images_per_s"] / base["images_per_s"]
        out.append((">= 10x the reference loop (fp32, batch 4)", f"{ratio:.1f}x ({base['images_per_s']:,.0f} images/s reference)",
                    "met" if ratio >= 10 else "not met"))
    for size, label, goal in (((1024, 1024), "1024x1024 in <= 2 ms", lambda ms: ms <= 2.0),
                              ((2160, 3840), "3840x2160 at >= 30 frames/s", lambda ms: ms <= 1000 / 30)):
        row = _fastest(infer_rows, size)
        if row:
            out.append((label, f"{row['ms']:.2f} ms = {1000 / row['ms']:.0f} frames/s ({row['path']}, max abs diff "
                               f"{row['max_abs_diff']:.1e})", "met" if goal(row["ms"]) else "not met"))
    row = _fastest(stages.get("bench-infer", {}).get("adain_rows", []), (1024, 1024))
    if row:
        out.append(("AdaIN (any painting) 1024x1024 in <= 10 ms", f"{row['ms']:.2f} ms ({row['path']}, max abs diff "
                                                                  f"{row['max_abs_diff']:.1e})",
                    "met" if row["ms"] <= 10.0 else "not met"))
    ckpt = {r["path"].endswith(", checkpointing"): r for r in train_rows if "error" not in r and r["size"] == 1024}
    if True in ckpt and False in ckpt:
        ratio = ckpt[True]["peak_mib"] / ckpt[False]["peak_mib"]
        out.append(("gradient checkpointing at 1024 px: peak memory <= 50% of without",
                    f"{ratio:.0%} ({ckpt[True]['peak_mib']:,.0f} vs {ckpt[False]['peak_mib']:,.0f} MiB, batch {ckpt[True]['batch']})",
                    "met" if ratio <= 0.5 else "not met"))
    train = stages.get("train", {})
    ratios = gatys_ratios(train.get("gatys_comparison", {}).get("means", {}))
    if ratios:
        worst_c, worst_s = max(r[0] for r in ratios.values()), max(r[1] for r in ratios.values())
        out.append(("AdaIN on held-out paintings: content and style within 1.5x of Gatys (300 it)",
                    "; ".join(f"{name}: content {c:.2f}x, style {s_:.2f}x" for name, (c, s_) in ratios.items()),
                    "met" if max(worst_c, worst_s) <= 1.5 else "not met"))
    if train.get("end_to_end_images_per_s"):
        out.append(("the whole cosine schedule inside the train stage's budget",
                    f"{train['steps']:,} steps x {train['batch']} in {train['wall_s']:.0f} s of {train['budget_s']:.0f} s "
                    f"({train['end_to_end_images_per_s']:,} images/s end to end)",
                    "met" if train.get("exit_code") == 0 else "not met"))
    return out


def gatys_ratios(means: dict) -> dict[str, tuple[float, float]]:
    """``{painting: (content ratio, style ratio)}`` of the model's column to Gatys's for each painting of an
    evaluate.py run with ``--gatys-iterations`` (method names ``<model> [<painting>]`` and ``gatys ... (<painting>)``)."""
    gatys = {name.split(" it (", 1)[1][:-1]: m for name, m in means.items() if name.startswith("gatys ")}
    out = {}
    for name, m in means.items():  # (split at the label's own separators: a painting's name may hold brackets)
        painting = name.split(" [", 1)[1][:-1] if name.endswith("]") and " [" in name else None
        g = gatys.get(painting or "")
        if g and g["content"] > 0 and g["style"] > 0:
            out[painting] = (m["content"] / g["content"], m["style"] / g["style"])
    return out


def _loader_table(rows: list[dict]) -> str:
    lines = ["| workers | batch | size | images/s | per worker |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['workers']} | {r['batch']} | {r['size']} | {r['images_per_s']:,.0f} | "
                     f"{r['images_per_s'] / max(1, r['workers']):,.0f} |")
    return "\n".join(lines)


def _train_stage(train: dict) -> str:
    """The train stage's lines; a combined run's earlier training runs first (``combine``: each went on from the
    decoder the one before brought back), each headed by its number."""
    runs = [*train.get("earlier", []), train]
    if len(runs) == 1:
        return "\n".join(_train_lines(train))
    return "\n\n".join(f"Run {i} of {len(runs)}:\n\n" + "\n".join(_train_lines(t)) for i, t in enumerate(runs, 1))


def _train_lines(train: dict) -> list[str]:
    if not train or "max_steps" not in train:
        return []
    paper = "160,000 x 8 = 1,280,000 pairs" if train.get("style") == "adain" else "40,000 x 4 = 160,000"  # AdaIN / Johnson
    lines = [f"- `python train.py {train['spec']}`: {train['max_steps']:,} steps x {train['batch']} = {train['images']:,} "
             f"images at {train['image_size']} px (the paper: {paper}), sized from "
             f"{train['rate_images_per_s']:,.0f} images/s ({train['rate_from']}) to a {train['budget_s']:.0f} s budget."]
    if "wall_s" in train:
        lines.append(f"- train.py ran {train['wall_s']:.0f} s in all (exit code {train['exit_code']})"
                     + (f"; {train['end_to_end_images_per_s']:,} images/s end to end after the first step "
                        f"({train['train_s']} s)" if train.get("end_to_end_images_per_s") else "") + ".")
    for name, mean in train.get("evaluation", {}).get("means", {}).items():
        lines.append(f"- evaluate.py on unseen photos (data/sample): {name}: total {mean['total']:,.0f}, content "
                     f"{mean['content']:,.0f}, style {mean['style']:,.0f}, {mean['ms']:.1f} ms/image")
    for name, (c, s) in gatys_ratios(train.get("gatys_comparison", {}).get("means", {})).items():
        lines.append(f"- held-out painting {name} vs Gatys (300 L-BFGS iterations of the same objective, 2 photos at "
                     f"256 px): content {c:.2f}x, style {s:.2f}x Gatys's")
    if train.get("error"):
        lines.append(f"- error: {train['error']}")
    return lines


def render_markdown(results: dict) -> str:
    stages = results.get("stages", {})
    env = stages.get("env", {})
    parts = [f"# GPU run {results.get('date', '')}", "",
             f"Command: `{results.get('command', '')}`  ",
             f"Machine: {env.get('machine') or results.get('machine', '?')}; {env.get('nvidia_smi', '')}  ",
             f"Elapsed: {results.get('elapsed_s', 0):.0f} s of a {results.get('budget_s', 0):.0f} s budget"
             + (" (--tiny: sizes for checking the command, not numbers to quote)" if results.get("tiny") else ""), ""]
    if env.get("bf16_matmul_tflops"):
        parts += [f"Ceilings: bf16 8192^3 matrix product {env['bf16_matmul_tflops']} TFLOP/s; device copy "
                  f"{env['copy_gb_per_s']} GB/s (read + write).", ""]
    rows = targets(results)
    if rows:
        parts += ["## Targets", "", "| target | measured | |", "|---|---|---|",
                  *(f"| {t} | {m} | {v} |" for t, m, v in rows), ""]
    bench = stages.get("bench-train", {})
    if bench.get("rows"):
        parts += ["## Training (compute only, fixed batch of real photos)", "", train_table(bench["rows"]), ""]
    if bench.get("loader"):
        parts += ["## Photo loader (uint8 batches, pinned memory)", "", _loader_table(bench["loader"]), ""]
    infer = stages.get("bench-infer", {})
    if infer.get("rows"):
        parts += ["## Inference (johnson, batch 1)", "", inference_table(infer["rows"]), ""]
    if infer.get("adain_rows"):
        parts += [ADAIN_TITLE, "", inference_table(infer["adain_rows"]), ""]
    profiles = [p for p in stages.get("profile", {}).values() if isinstance(p, dict) and p.get("rows")]
    if profiles:
        parts += ["## Where the time goes (torch.profiler, by operator)", "",
                  *(f"{profile_table(p)}\n" for p in profiles)]
    if _train_stage(stages.get("train", {})):
        parts += ["## Training run", "", _train_stage(stages["train"]), ""]
    failed = {k: v["error"] for k, v in stages.items() if isinstance(v, dict) and v.get("error")}
    skipped = {k: v["skipped"] for k, v in stages.items() if isinstance(v, dict) and isinstance(v.get("skipped"), str)}
    skipped.update({f"{k}: {c['path']} at {c['size']} px x{c['batch']}": "time budget" for k, v in stages.items()
                    if isinstance(v, dict) for c in v.get("skipped_configs", v.get("skipped", []) if isinstance(
                        v.get("skipped"), list) else [])})
    if failed or skipped:
        parts += ["## Not measured", "", *(f"- {k}: failed: {v}" for k, v in failed.items()),
                  *(f"- {k}: skipped ({v})" for k, v in skipped.items()), ""]
    return "\n".join(parts)


def combine(runs: list[dict]) -> dict:
    """Several runs on one device (e.g. a full run, then a --focus compile run) as one: rows appended in
    order (a later row for the same configuration replaces an earlier one), commands joined. Training runs
    are all kept (a second run may go on from the model the first brought back): the last one is judged
    against the targets, the earlier ones listed before it under ``earlier``."""
    out = {"command": " ; ".join(r.get("command", "") for r in runs), "date": runs[-1].get("date"),
           "machine": next((r["machine"] for r in runs if r.get("machine")), None), "stages": {}}
    row_key = lambda r: (r["path"], str(r["size"]), r.get("batch"))  # noqa: E731
    keys = {"rows": row_key, "adain_rows": row_key, "loader": lambda r: r["workers"]}
    for run in runs:
        for name, stage in run.get("stages", {}).items():
            if not isinstance(stage, dict) or isinstance(stage.get("skipped"), str):
                continue
            before = out["stages"].get("train", {})
            if name == "train" and "max_steps" in before and "max_steps" in stage:  # both runs' lines are kept
                earlier = [*before.get("earlier", []), {k: v for k, v in before.items() if k != "earlier"}]
                out["stages"]["train"] = {**stage, "earlier": earlier}
                continue
            merged = out["stages"].setdefault(name, {})
            for field, value in stage.items():
                if field in keys and isinstance(value, list):
                    kept = {keys[field](r): r for r in merged.get(field, [])}
                    kept.update({keys[field](r): r for r in value})
                    merged[field] = list(kept.values())
                elif field not in merged or name in ("env", "train"):
                    merged[field] = value
    return out


def merge_results(results: dict, path: Path = BENCHMARKS_MD) -> list[str]:
    """Record a GPU run's tables as docs/BENCHMARKS.md sections named after its GPU and date (one per table:
    a later merge of the same GPU and date replaces them, another date's stay); returns the section names."""
    stages = results["stages"]
    env = stages.get("env", {})
    machine = env.get("machine") or results.get("machine") or "GPU"
    gpu = env.get("gpu") or machine.split(";")[0]
    machine_line = f"{machine}; {env.get('nvidia_smi', '')}".strip("; ")
    command, date = results.get("command", "bash scripts/gpu_run.sh"), results.get("date")
    gpu = f"{gpu}, {date}" if date else gpu
    sections = []

    def put(title: str, body: str) -> None:
        record(title, command, body, path, machine_line=machine_line, date=date)
        sections.append(title)

    if targets(results):
        put(f"GPU targets ({gpu})", "| target | measured | |\n|---|---|---|\n"
            + "\n".join(f"| {t} | {m} | {v} |" for t, m, v in targets(results)))
    bench = stages.get("bench-train", {})
    if bench.get("rows"):
        put(f"Training on GPU ({gpu})", train_table(bench["rows"])
            + ("\n\nPhoto loader alone:\n\n" + _loader_table(bench["loader"]) if bench.get("loader") else ""))
    if stages.get("bench-infer", {}).get("rows"):
        put(f"Inference on GPU ({gpu})", inference_table(stages["bench-infer"]["rows"]))
    if stages.get("bench-infer", {}).get("adain_rows"):
        put(f"AdaIN inference on GPU ({gpu})", inference_table(stages["bench-infer"]["adain_rows"]))
    profiles = [p for p in stages.get("profile", {}).values() if isinstance(p, dict) and p.get("rows")]
    if profiles:
        put(f"Profile on GPU ({gpu})", "\n\n".join(profile_table(p) for p in profiles))
    if _train_stage(stages.get("train", {})):
        put(f"GPU training run ({gpu})", _train_stage(stages["train"]))
    return sections
