"""Synthetic motion and the temporal-consistency regulariser (stylenet/video/motion.py, stylenet/training/temporal.py)."""
import pytest
import torch

from stylenet.models import TransformerNet
from stylenet.training.temporal import temporal_terms
from stylenet.video.motion import SyntheticMotion, inside, random_flow, warp

from conftest import compose_config, run_train, train_in_process


def test_warp_is_exact_for_an_integer_shift_and_inside_marks_the_invented_border():
    x = torch.rand(2, 3, 20, 24)
    flow = torch.zeros(2, 2, 20, 24)
    flow[:, 0], flow[:, 1] = 3.0, -2.0  # content 3 px right, 2 px up
    moved = warp(x, flow)
    torch.testing.assert_close(moved[:, :, :18, 3:], x[:, :, 2:, :21])
    mask = inside(flow)
    assert mask[:, :, :18, 3:].eq(1).all() and mask[:, :, :, :3].eq(0).all() and mask[:, :, 18:].eq(0).all()
    torch.testing.assert_close(warp(x, torch.zeros_like(flow)), x)


def test_random_flows_are_smooth_bounded_and_reproducible():
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    a, b = random_flow(4, 64, 80, generator=g()), random_flow(4, 64, 80, generator=g())
    torch.testing.assert_close(a, b)
    assert a.shape == (4, 2, 64, 80) and a.abs().max() < 20  # 64-px crops: a quarter of ReReVST's 256-px amounts
    # Smooth: neighbouring pixels move almost alike (the flow is blurred over 25 px here).
    assert (a[..., 1:] - a[..., :-1]).abs().max() < 0.5 and (a[..., 1:, :] - a[..., :-1, :]).abs().max() < 0.5
    assert a.flatten(1).std(1).gt(0).all()  # not a constant shift only
    moved, flow = SyntheticMotion()(torch.rand(2, 3, 32, 32), torch.Generator().manual_seed(0))
    assert moved.min() >= 0 and moved.max() <= 1 and flow.shape == (2, 2, 32, 32)


def test_the_temporal_loss_is_zero_for_a_network_that_commutes_with_the_warp():
    """A pointwise network (a colour map) commutes with every warp; noise off, the loss is 0. A network
    that looks at neighbours (a blur with a position-dependent gain) does not."""
    x = torch.rand(2, 3, 40, 48)
    pointwise = lambda t: t.pow(2) * 0.8 + 0.1  # noqa: E731
    motion = SyntheticMotion(noise_std=0.0)
    terms = temporal_terms(pointwise, x, pointwise(x), temporal_weight=5.0, motion=motion,
                           generator=torch.Generator().manual_seed(1))
    assert set(terms) == {"temporal"} and terms["temporal"] < 1e-5
    ramp = torch.linspace(0.5, 1.0, 48).view(1, 1, 1, 48)
    positional = lambda t: t * ramp  # noqa: E731
    terms = temporal_terms(positional, x, positional(x), temporal_weight=5.0, motion=motion,
                           generator=torch.Generator().manual_seed(1))
    assert terms["temporal"] > 1e-3


def test_noise_term_and_gradients_reach_the_network():
    torch.manual_seed(0)
    net = TransformerNet(4, 1, outer_kernel=5, full_resolution=False)
    x = torch.rand(2, 3, 32, 32)
    y = net(x)
    terms = temporal_terms(net, x, y, temporal_weight=1.0, noise_weight=2.0, generator=torch.Generator().manual_seed(0))
    assert set(terms) == {"temporal", "noise"} and all(v > 0 for v in terms.values())
    sum(terms.values()).backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)
    assert temporal_terms(net, x, y) == {}  # both weights 0: nothing computed


def test_config_passes_the_weights_and_rejects_bad_ones():
    from stylenet.config import ConfigError, validate
    from stylenet.training.config import module_kwargs
    kwargs = module_kwargs(compose_config(["data=sample", "loss.temporal_weight=100", "loss.noise_weight=10"]))
    assert kwargs["temporal_weight"] == 100.0 and kwargs["noise_weight"] == 10.0 and kwargs["motion_std"] == 8.0
    cfg = compose_config(["data=sample", "loss.temporal_weight=-1"])
    with pytest.raises(ConfigError, match="^loss.temporal_weight"):
        validate(cfg)
        module_kwargs(cfg)


@pytest.mark.slow
def test_fine_tuning_a_trained_model_with_the_temporal_term(tiny, tmp_path):
    from stylenet.export import load_transformer, read_metadata, save_stylizer
    torch.manual_seed(0)
    start = save_stylizer(TransformerNet(4, 1), tmp_path / "wave.safetensors", style="wave", style_image="wave.jpg",
                          style_size=64)
    run = tmp_path / "run"
    wrong = train_in_process([*tiny, f"init_from={start}", "loss.temporal_weight=1000"])
    assert wrong.returncode != 0 and "holds the style 'wave': pass style=wave" in wrong.stderr
    proc = run_train([*[o for o in tiny if o != "logger=none"], f"init_from={start}", "style=wave",
                      "loss.temporal_weight=1000", "loss.noise_weight=100"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    header = (run / "logs" / "metrics.csv").read_text().splitlines()[0]
    assert "train/temporal" in header and "train/noise" in header and "val/temporal" in header
    tuned = run / "wave.safetensors"
    assert read_metadata(tuned)["style"] == "wave"
    a, b = load_transformer(start)[0], load_transformer(tuned)[0]
    assert a.config() == b.config()  # the trained model's architecture, continued
    assert any(not torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.fixture(scope="module")
def photo():
    from stylenet.image import load_image
    from conftest import SAMPLE
    return load_image(sorted(SAMPLE.glob("*.jpg"))[0], 320)


@pytest.mark.parametrize("kind", ["pan", "zoom", "rotate", "crop"])
def test_synthetic_clips_follow_their_known_flow(photo, kind):
    from stylenet.video.metric import warping_error
    from stylenet.video.synthetic import synthetic_clip
    frames, flows = synthetic_clip(photo, kind, frames=6, width=96, height=72)
    assert frames.shape == (6, 3, 72, 96) and flows.shape == (6, 2, 72, 96) and flows[1:].abs().amax() > 0.3
    exact = warping_error(frames, flows)
    assert exact < 2e-3  # only resampling differences: the flow is the motion
    assert warping_error(frames, torch.zeros_like(flows)) > 3 * exact  # ignoring the motion is visibly worse


def test_the_metric_ranks_a_flickering_sequence_above_a_stable_one(photo):
    from stylenet.video.metric import warping_error
    from stylenet.video.synthetic import synthetic_clip
    frames, flows = synthetic_clip(photo, "pan", frames=8, width=96, height=72)
    g = torch.Generator().manual_seed(0)
    flicker = (frames * (1 + 0.1 * torch.randn(8, 1, 1, 1, generator=g)) + 0.02 * torch.randn(frames.shape, generator=g)).clamp(0, 1)
    stable, flickering = warping_error(frames, flows), warping_error(flicker, flows)
    assert flickering > 5 * stable


def test_dis_flow_recovers_a_known_pan_and_masks_what_left_the_frame(photo):
    pytest.importorskip("cv2")
    from stylenet.video.metric import dis_flows, warping_error
    from stylenet.video.synthetic import synthetic_clip
    frames, exact = synthetic_clip(photo, "pan", frames=4, width=128, height=96)
    flows, masks = dis_flows(frames)
    inner = (slice(None), slice(None), slice(8, -8), slice(8, -8))
    error = (flows[1:] - exact[1:])[inner].norm(dim=1).mean()
    assert error < 0.5  # px: the estimate is the motion
    assert masks[1:].mean() > 0.8 and masks[1:, :, :, -1].mean() < masks[1:].mean()  # less trust where content enters
    assert warping_error(frames, flows, masks) < 2 * warping_error(frames, exact) + 1e-4


def test_module_adds_the_terms_to_the_total_for_several_styles_and_validation_is_repeatable():
    from conftest import STYLES
    from stylenet.training.module import StyleTransferModule
    styles = [{"name": n, "image": str(STYLES / f"{n}.jpg"), "size": 64, "weight": 1.0} for n in ("wave", "udnie")]
    module = StyleTransferModule(style_name="two", style_image=styles[0]["image"], width=4, num_res_blocks=1,
                                 styles=styles, content_layers={"relu2_2": 1.0}, style_layers={"relu2_2": 1.0},
                                 temporal_weight=1e4, noise_weight=1e3, image_size=32)
    module.setup("fit")
    batch = torch.rand(4, 3, 32, 32)
    ids = torch.tensor([0, 1, 0, 1])
    terms, _ = module._terms(batch, ids, generator=torch.Generator().manual_seed(0))
    assert list(terms)[-1] == "total" and {"temporal", "noise"} <= set(terms)
    parts = sum(v for k, v in terms.items() if k != "total")
    torch.testing.assert_close(terms["total"], parts)
    again, _ = module._terms(batch, ids, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(again["temporal"], terms["temporal"])  # seeded: validation numbers are stable
    terms["total"].backward()
    assert module.net.encoder[0][1].weight.grad is not None
