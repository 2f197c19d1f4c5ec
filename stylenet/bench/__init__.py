"""Benchmarks and the GPU kit: numbers are printed and recorded in docs/BENCHMARKS.md with the
command, machine and date; nothing here asserts a timing.

- ``common``: timing, machine description, docs/BENCHMARKS.md sections.
- ``infer``: ms per image of every inference path (eager, channels_last, half, TorchScript, compile,
  CUDA graphs, onnxruntime), each checked against eager fp32.
- ``train``: training images/s and peak memory, the reference loop against stylenet's switches.
- ``kit``: ``make gpu-kit``, everything an air-gapped GPU node lacks, within the carry limit.
- ``gpu_run``: the one command sent to such a node (stages under a time budget, partial results).
"""
