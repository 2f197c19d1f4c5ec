"""Training-at-scale switches: precision, channels_last, checkpointing, DDP data split."""
import json
import os
import subprocess
import sys

import pytest
import torch

from stylenet.losses import PerceptualLoss
from stylenet.training.module import StyleTransferModule
from stylenet.models import TransformerNet

from conftest import ROOT, SAMPLE, STYLES


def _module(**kw) -> StyleTransferModule:
    torch.manual_seed(0)
    m = StyleTransferModule(style_name="starry_night", style_image=str(STYLES / "starry_night.jpg"), style_size=64,
                            width=8, num_res_blocks=2, content_layers={"relu2_2": 1.0},
                            style_layers={"relu1_2": 0.3, "relu2_2": 1.0, "relu3_3": 0.1}, **kw)
    m.setup("fit")
    return m


@pytest.fixture
def batch():
    from stylenet.image import load_image
    from torchvision.transforms.v2 import CenterCrop
    return torch.stack([CenterCrop(32)(load_image(p, 40)) for p in sorted(SAMPLE.glob("*.jpg"))[:2]])


def test_switches_compose_and_match_fp32_at_step_0(batch):
    plain = _module()
    fast = _module(gradient_checkpointing=True, channels_last=True, vgg_checkpointing=True)
    fast.net.load_state_dict(plain.net.state_dict())
    ref = plain._terms(batch)[0]["total"].item()
    with torch.autocast("cpu", torch.bfloat16):
        mixed = fast._terms(batch)[0]["total"].item()
    assert mixed == pytest.approx(ref, rel=3e-2)
    assert fast._terms(batch)[0]["total"].item() == pytest.approx(ref, rel=1e-5)  # channels_last + checkpointing in fp32


def test_checkpointing_gives_the_same_gradients(batch):
    grads = []
    for ckpt in (False, True):
        torch.manual_seed(0)
        net = TransformerNet(8, 2, gradient_checkpointing=ckpt)
        loss = PerceptualLoss({"relu2_2": 1.0}, {"relu1_2": 1.0, "relu3_1": 1.0}, gradient_checkpointing=ckpt)
        loss.set_style(batch[:1])
        loss(net(batch), batch)["total"].backward()
        grads.append([p.grad.clone() for p in net.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_ddp_ranks_see_disjoint_data_and_end_with_identical_weights(tmp_path, photos_dir):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "ddp_probe.py"), str(tmp_path), str(photos_dir)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["world"] == r1["world"] == 2
    assert len(r0["epochs"]) == len(r1["epochs"]) >= 2
    for e0, e1 in zip(r0["epochs"], r1["epochs"]):
        assert e0 and e1 and not set(e0) & set(e1)  # each rank its own share of every epoch
    assert r0["epochs"][0] != r0["epochs"][1]  # reshuffled per epoch
    w0, w1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for key in w0:
        torch.testing.assert_close(w0[key], w1[key], rtol=0, atol=0)
