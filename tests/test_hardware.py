"""`auto` precision / channels_last / compile resolve from the hardware, on faked probes."""
import pytest

from stylenet.hardware import Hardware, auto_compile, auto_precision, describe, probe, resolve_auto, slow_choices

from conftest import compose_config

H100 = Hardware("cuda", "NVIDIA H100 80GB HBM3", cuda_bf16=True)
T4 = Hardware("cuda", "Tesla T4", cuda_bf16=False)
SAPPHIRE = Hardware("cpu", "CPU", cpu_flags=frozenset({"avx2", "avx512f", "amx_bf16", "amx_tile"}))
COOPER = Hardware("cpu", "CPU", cpu_flags=frozenset({"avx2", "avx512f", "avx512_bf16"}))
EPYC_AVX2 = Hardware("cpu", "CPU", cpu_flags=frozenset({"avx2", "fma"}))
APPLE = Hardware("mps", "Apple GPU (MPS)")


@pytest.mark.parametrize("hw, precision, compiled", [
    (H100, "bf16-mixed", True), (T4, "16-mixed", True), (SAPPHIRE, "bf16-mixed", False),
    (COOPER, "32-true", False), (EPYC_AVX2, "32-true", False), (APPLE, "32-true", False)])
def test_auto_values_per_machine(hw, precision, compiled):
    cfg = compose_config([])
    assert cfg.trainer.precision == cfg.model.channels_last == cfg.model.compile == "auto"  # the defaults
    resolved = resolve_auto(cfg, hw)
    assert cfg.trainer.precision == precision and cfg.model.compile is compiled
    assert cfg.model.channels_last is False  # measured slower on CPUs and on an H200
    assert set(resolved) == {"trainer.precision", "model.channels_last", "model.compile"}
    assert auto_precision(hw)[0] == precision and auto_compile(hw)[0] is compiled


def test_explicit_values_are_kept_and_lines_say_why():
    cfg = compose_config(["trainer.precision=32-true", "model.compile=false"])
    resolved = resolve_auto(cfg, H100)
    assert cfg.trainer.precision == "32-true" and cfg.model.compile is False and list(resolved) == ["model.channels_last"]
    lines = describe(resolve_auto(compose_config([]), H100))
    assert lines[0] == "precision: bf16-mixed (auto: CUDA device with bf16 (NVIDIA H100 80GB HBM3))"
    assert lines[2].startswith("compile: true (auto: CUDA device")
    assert describe(resolve_auto(compose_config([]), SAPPHIRE))[0] == "precision: bf16-mixed (auto: CPU with AMX (amx_bf16))"
    assert describe(resolve_auto(compose_config([]), COOPER))[0].startswith(
        "precision: 32-true (auto: CPU with AVX512-BF16 but no AMX")  # measured slower than fp32 there


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
