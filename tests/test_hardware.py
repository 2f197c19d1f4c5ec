"""`auto` precision / channels_last / compile resolve from the hardware, on faked probes."""
import pytest

from stylenet.hardware import (Hardware, auto_compile, auto_inference_precision, auto_precision, describe, probe,
                               resolve_auto, slow_choices)

from conftest import compose_config

H100 = Hardware("cuda", "NVIDIA H100 80GB HBM3", cuda_bf16=True)
T4 = Hardware("cuda", "Tesla T4", cuda_bf16=False)
SAPPHIRE = Hardware("cpu", "CPU", cpu_flags=frozenset({"avx2", "avx512f", "amx_bf16", "amx_tile"}))
COOPER = Hardware("cpu", "CPU", cpu_flags=frozenset({"avx2", "avx512f", "avx512_bf16"}))  # bf16 not measured
# AVX512-BF16 without AMX, the probe's result as measured: 0.8x like the Xeon of 2026-11-27, 1.6x like the Zen 4.
XEON_BF16 = Hardware("cpu", "CPU", cpu_flags=COOPER.cpu_flags, bf16_speedup=0.8)
ZEN4 = Hardware("cpu", "CPU", cpu_flags=COOPER.cpu_flags, bf16_speedup=1.6)
EPYC_AVX2 = Hardware("cpu", "CPU", cpu_flags=frozenset({"avx2", "fma"}))
APPLE = Hardware("mps", "Apple GPU (MPS)")


@pytest.mark.parametrize("hw, precision, compiled", [
    (H100, "bf16-mixed", True), (T4, "16-mixed", True), (SAPPHIRE, "bf16-mixed", False),
    (COOPER, "32-true", False), (XEON_BF16, "32-true", False), (ZEN4, "bf16-mixed", False),
    (EPYC_AVX2, "32-true", False), (APPLE, "32-true", False)])
def test_auto_values_per_machine(hw, precision, compiled):
    cfg = compose_config([])
    assert cfg.trainer.precision == cfg.model.channels_last == cfg.model.compile == "auto"  # the defaults
    resolved = resolve_auto(cfg, hw)
    assert cfg.trainer.precision == precision and cfg.model.compile is compiled
    # NHWC: faster for training on a CPU with AMX only (slower on other CPUs and on an H200)
    assert cfg.model.channels_last is (hw is SAPPHIRE)
    assert set(resolved) == {"trainer.precision", "model.channels_last", "model.compile"}
    assert auto_precision(hw)[0] == precision and auto_compile(hw)[0] is compiled


@pytest.mark.parametrize("hw, precision", [(H100, "fp32"), (T4, "fp32"), (SAPPHIRE, "bf16"), (COOPER, "fp32"),
                                           (XEON_BF16, "fp32"), (ZEN4, "bf16"), (EPYC_AVX2, "fp32"), (APPLE, "fp32")])
def test_stylising_precision_auto_per_machine(hw, precision):
    """stylize.py's --precision auto: bf16 where training takes bf16 on a CPU; fp32 on GPUs (eager fp16 / bf16
    measured slower there) and with onnxruntime."""
    assert auto_inference_precision(hw)[0] == precision
    assert auto_inference_precision(hw, "onnxruntime") == ("fp32", "onnxruntime backend")
    assert "1.60x" in auto_inference_precision(ZEN4)[1] and "slower" in auto_inference_precision(H100)[1]


def test_explicit_values_are_kept_and_lines_say_why():
    cfg = compose_config(["trainer.precision=32-true", "model.compile=false"])
    resolved = resolve_auto(cfg, H100)
    assert cfg.trainer.precision == "32-true" and cfg.model.compile is False and list(resolved) == ["model.channels_last"]
    lines = describe(resolve_auto(compose_config([]), H100))
    assert lines[0] == "precision: bf16-mixed (auto: CUDA device with bf16 (NVIDIA H100 80GB HBM3))"
    assert lines[2].startswith("compile: true (auto: CUDA device")
    assert describe(resolve_auto(compose_config([]), SAPPHIRE))[:2] == [
        "precision: bf16-mixed (auto: CPU with AMX (amx_bf16))",
        "channels_last: true (auto: CPU with AMX (NHWC trained 1.17-1.5x faster there in bf16-mixed, level in fp32))"]
    assert describe(resolve_auto(compose_config([]), COOPER))[0].startswith(
        "precision: 32-true (auto: CPU with AVX512-BF16 but no AMX, bf16 not measured")
    assert describe(resolve_auto(compose_config([]), ZEN4))[0] == (
        "precision: bf16-mixed (auto: CPU with AVX512-BF16, bf16 measured 1.60x the speed of fp32 here; bf16 from 1.2x)")
    assert describe(resolve_auto(compose_config([]), XEON_BF16))[0].startswith(
        "precision: 32-true (auto: CPU with AVX512-BF16, bf16 measured 0.80x the speed of fp32 here")


@pytest.mark.parametrize("precision", ["bf16-mixed", "bf16-true", "32-true", "auto"])
@pytest.mark.parametrize("hw", [EPYC_AVX2, COOPER, SAPPHIRE, H100])
def test_bf16_set_by_hand_on_a_cpu_without_bf16_is_warned_about(hw, precision):
    cfg = compose_config([f"trainer.precision={precision}"])
    lines = slow_choices(cfg, hw)
    if hw is EPYC_AVX2 and "bf16" in precision:
        assert lines == [f"trainer.precision={precision} on a CPU without AVX512-BF16 or AMX: bf16 is emulated there, "
                         "~100x slower than fp32 (trainer.precision=auto picks 32-true)"]
    else:
        assert lines == []


def test_probe_follows_the_accelerator_setting():
    hw = probe("cpu")  # whatever this machine has, trainer.accelerator=cpu means the CPU
    assert hw.kind == "cpu" and isinstance(hw.cpu_flags, frozenset)


def test_config_accepts_auto_and_rejects_nonsense():
    from stylenet.config import ConfigError, validate

    validate(compose_config([]))
    for override, key in (("model.compile=sometimes", "model.compile"), ("trainer.precision=bf8", "trainer.precision")):
        with pytest.raises(ConfigError, match=key):
            validate(compose_config([override]))


def test_fp32_matrix_products_use_tf32_on_cuda_only():
    """The Gram matrices' fp32 products (14% of a bf16 step on an H200) go to TF32 tensor cores on a CUDA
    device; a CPU's stay exact. Called at fit start by every training module."""
    import torch

    from stylenet.hardware import tf32_matmul
    from stylenet.training.base import TrainingModule

    before = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("highest")
        assert tf32_matmul("cpu") is False and torch.get_float32_matmul_precision() == "highest"
        assert tf32_matmul(torch.device("cuda", 0)) is True and torch.get_float32_matmul_precision() == "high"
        torch.set_float32_matmul_precision("highest")
        TrainingModule().on_fit_start()  # on the CPU
        assert torch.get_float32_matmul_precision() == "highest"
    finally:
        torch.set_float32_matmul_precision(before)


def _fake_cpu(monkeypatch, flags, probe_result=None):
    """This machine as a CPU with ``flags``; the bf16 probe returns ``probe_result`` (None: must not run)."""
    import torch

    import stylenet.hardware as hardware

    calls = []

    def fake_probe(size, batch, rounds):
        assert probe_result is not None, "the bf16 probe ran where it should not"
        calls.append(torch.rand(1))  # consumes the random state, as the real probe's layers do
        return probe_result

    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset(flags))
    monkeypatch.setattr(hardware, "_bf16_probe", fake_probe)
    monkeypatch.delenv(hardware.BF16_SPEEDUP_ENV, raising=False)
    return calls


@pytest.mark.parametrize("measured, precision", [(1.9, "bf16-mixed"), (0.75, "32-true"), (1.1, "32-true")])
def test_avx512_bf16_without_amx_is_decided_by_the_probe(monkeypatch, measured, precision):
    """The flag alone does not decide it (bf16 ran 0.76-0.8x of fp32 on a Xeon with it, 1.6-2.2x on a Zen 4):
    auto measures; the result is handed to later calls and to the DDP ranks through the environment, and
    the probe leaves the caller's random state alone."""
    import os

    import torch

    from stylenet.hardware import BF16_SPEEDUP_ENV

    calls = _fake_cpu(monkeypatch, {"avx2", "avx512f", "avx512_bf16"}, measured)
    torch.manual_seed(3)
    expected = torch.rand(2)
    torch.manual_seed(3)
    cfg = compose_config(["trainer.accelerator=cpu"])
    resolve_auto(cfg)
    assert torch.equal(torch.rand(2), expected)  # the caller's random state is as it was
    assert cfg.trainer.precision == precision and len(calls) == 1
    assert os.environ[BF16_SPEEDUP_ENV] == f"{measured:.3f}"
    assert probe("cpu").bf16_speedup == measured and len(calls) == 1  # read back, not measured again
    monkeypatch.setenv(BF16_SPEEDUP_ENV, "fast")  # not a number: measured again
    assert probe("cpu").bf16_speedup == measured and len(calls) == 2


@pytest.mark.parametrize("flags, overrides", [
    ({"avx2", "avx512_bf16", "amx_bf16"}, []),                           # AMX: bf16 without measuring
    ({"avx2"}, []),                                                      # no bf16 instructions: fp32
    ({"avx2", "avx512_bf16"}, ["trainer.precision=32-true"]),            # precision chosen by hand
    ({"avx2", "avx512_bf16"}, ["trainer.precision=bf16-mixed"])])
def test_the_bf16_probe_runs_only_where_it_decides_something(monkeypatch, flags, overrides):
    _fake_cpu(monkeypatch, flags)  # the probe fails the test if it runs
    cfg = compose_config(["trainer.accelerator=cpu", *overrides])
    resolve_auto(cfg)
    slow_choices(cfg)
    assert cfg.trainer.precision == (overrides[0].split("=")[1] if overrides else
                                     "bf16-mixed" if "amx_bf16" in flags else "32-true")


def test_the_bf16_probe_measures_this_cpu(monkeypatch):
    """The real probe, where this CPU has bf16 instructions (elsewhere bf16 is emulated, ~100x slower)."""
    import time

    from stylenet.hardware import BF16_SPEEDUP_ENV, cpu_bf16_speedup, cpu_has_bf16

    if not cpu_has_bf16():
        pytest.skip("this CPU has no AVX512-BF16 or AMX")
    import torch

    monkeypatch.delenv(BF16_SPEEDUP_ENV, raising=False)
    state = torch.get_rng_state()
    start = time.perf_counter()
    speedup = cpu_bf16_speedup(rounds=3)
    assert 0.05 < speedup < 20, speedup  # a ratio of two timings of the same work, not garbage
    assert torch.equal(torch.get_rng_state(), state)  # its layers' initialisation left the random state alone
    print(f"bf16 probe: {speedup:.2f}x fp32 in {time.perf_counter() - start:.2f} s")
