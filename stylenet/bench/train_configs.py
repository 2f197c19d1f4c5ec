"""The training benchmark's rows (configs for :func:`stylenet.bench.train.train_one`): the CPU set of
``scripts/benchmark.py train``, the GPU run's full matrix, and its focused sets (``gpu_run --focus``)."""
from __future__ import annotations


def train_configs(steps: int, cuda: bool, compile: bool, mem_size: int, mem_batch: int, cpu_bf16: bool = False) -> list[dict]:
    """CPU: the reference loop and stylenet (+ bf16 where the CPU has it, + compile) at 256 px batch 4
    and 512 px batch 2, then gradient checkpointing on/off at ``mem_size``."""
    if cuda:
        return gpu_train_configs(steps, compile, mem_size, mem_batch)
    configs = []
    for size, batch in ((256, 4), (512, 2)):
        base = {"size": size, "batch": batch, "steps": steps}
        configs += [{**base, "path": "baseline"}, {**base, "path": "stylenet fp32"}]
        if cpu_bf16:
            configs.append({**base, "path": "stylenet bf16-mixed", "precision": "bf16"})
        if compile:
            configs.append({**base, "path": "stylenet + compile", "compile": True})
    for ckpt in (False, True):
        name = "stylenet, checkpointing" if ckpt else "stylenet, no checkpointing"
        configs.append({"size": mem_size, "batch": mem_batch, "steps": 1, "path": name, "checkpointing": ckpt,
                        **({"precision": "bf16"} if cpu_bf16 else {})})
    return configs


def gpu_train_configs(steps: int, compile: bool = True, memory: tuple[tuple[int, int], ...] = ((512, 16), (1024, 4)),
                      batches: tuple[int, ...] = (4, 16, 32), size: int = 256) -> list[dict]:
    """The GPU matrix, most important first (a time budget cuts the tail): the reference loop and
    stylenet fp32 at the first batch size (4: the paper's); bf16-mixed, then + compile, at each larger
    batch (what train.py runs by default on a GPU; the train stage sizes its schedule from these);
    gradient checkpointing on/off at each ``memory`` (size, batch); fp32 and bf16 at the other batches;
    channels_last eager and compiled at the second batch size."""
    first, rest = batches[0], batches[1:] or batches[:1]
    base = {"size": size, "steps": steps, "warmup": 3}
    bf16, fp32 = {"precision": "bf16"}, {}
    configs = [{**base, "batch": first, "path": "baseline"}, {**base, "batch": first, "path": "stylenet fp32"}]
    for batch in rest:
        configs.append({**base, "batch": batch, "path": "stylenet bf16-mixed", **bf16})
        if compile:
            configs.append({**base, "batch": batch, "path": "stylenet bf16 + compile", "compile": True, **bf16})
    for mem, batch in memory:
        for ckpt in (False, True):
            configs.append({"size": mem, "batch": batch, "steps": max(2, steps // 4), "warmup": 2, "checkpointing": ckpt,
                            "path": f"stylenet bf16, {'checkpointing' if ckpt else 'no checkpointing'}", **bf16})
    if first not in rest:
        configs.append({**base, "batch": first, "path": "stylenet bf16-mixed", **bf16})
    configs += [{**base, "batch": b, "path": "stylenet fp32", **fp32} for b in rest if b != first]
    cl = {**base, "batch": rest[0], "channels_last": True, **bf16}
    configs.append({**cl, "path": "stylenet bf16 + channels_last"})
    if compile:
        configs.append({**cl, "path": "stylenet bf16 + cl + compile", "compile": True})
    return configs


def gram_train_configs(steps: int, batches: tuple[int, ...] = (16, 32), size: int = 256) -> list[dict]:
    """The Gram matrices' fp32 products without and with TF32 (bf16-mixed, eager, each batch), then the
    default compiled step at the last batch (first compile ~50 s on a GPU)."""
    base = {"size": size, "steps": steps, "warmup": 3, "precision": "bf16"}
    configs = []
    for batch in batches:
        configs += [{**base, "batch": batch, "path": "stylenet bf16-mixed, fp32 Gram", "tf32": False},
                    {**base, "batch": batch, "path": "stylenet bf16-mixed"}]
    return configs + [{**base, "batch": batches[-1], "path": "stylenet bf16 + compile", "compile": True}]


def compiled_train_configs(steps: int, batches: tuple[int, ...] = (16, 32), size: int = 256) -> list[dict]:
    """bf16-mixed + compile, NCHW and channels_last, for each batch (first compile ~50 s each on a GPU)."""
    configs = []
    for batch in batches:
        base = {"size": size, "batch": batch, "steps": steps, "warmup": 3, "precision": "bf16", "compile": True}
        configs += [{**base, "path": "stylenet bf16 + compile"},
                    {**base, "path": "stylenet bf16 + cl + compile", "channels_last": True}]
    return configs


# torch.compile modes tried by the speed focus (torch.compile's own names).
AUTOTUNE = "max-autotune-no-cudagraphs"  # inductor benchmarks Triton templates against cuDNN/cuBLAS per shape
CUDA_GRAPHS = "reduce-overhead"  # CUDA graphs of the compiled forward and backward
# Gram matrices summed in pieces of 4,096 positions (stylenet.losses.gram_matrix): 16 pieces at relu1_2 and 4 at
# relu2_2 for 256-px crops (64 x 64 positions: relu3_3 and relu4_3 have at most that, one piece).
GRAM_CHUNK = 4096


def speed_train_configs(steps: int, batch: int = 32, size: int = 256) -> list[dict]:
    """Issue #10's untried ways to a faster training step (bf16-mixed), most likely gain first (a time budget
    cuts the tail; each compile ~50 s on an H200): the reference loop (the 10x target's yardstick); the eager
    step without and with the Gram matrices' long sums in pieces (seconds each); train.py's compiled step
    (the control), then with the Gram matrices in pieces, with one graph for the whole loss (network, both
    VGG passes, Gram matrices and reductions: train.py compiles the network and the VGG apart), the same with
    CUDA graphs, the control at twice the batch, and last the whole loss with inductor's autotuning (the
    longest compile)."""
    base = {"size": size, "batch": batch, "steps": steps, "warmup": 3, "precision": "bf16", "compile": True}
    eager = {**base, "compile": False}
    return [{"size": size, "batch": 4, "steps": steps, "warmup": 3, "path": "baseline"},  # the 10x target's yardstick
            {**eager, "path": "stylenet bf16-mixed"},  # seconds each: the Gram change alone, eager
            {**eager, "path": "stylenet bf16-mixed, Gram in pieces", "gram_chunk": GRAM_CHUNK},
            {**base, "path": "stylenet bf16 + compile"},
            {**base, "path": "stylenet bf16 + compile, Gram in pieces", "gram_chunk": GRAM_CHUNK},
            {**base, "path": "stylenet bf16 + compile whole loss", "compile_scope": "loss"},
            {**base, "path": "stylenet bf16 + compile whole loss + CUDA graphs", "compile_scope": "loss",
             "compile_mode": CUDA_GRAPHS},
            {**base, "batch": 2 * batch, "path": "stylenet bf16 + compile"},
            {**base, "path": "stylenet bf16 + compile whole loss + autotune", "compile_scope": "loss",
             "compile_mode": AUTOTUNE}]
