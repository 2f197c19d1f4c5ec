import pytest
import torch

from stylenet.models import InstanceNorm, TransformerNet


LIGHT = {"channels": [4, 6, 8], "block": "inverted", "expansion": 3, "outer_kernel": 3}
FAST = {"channels": [4, 6], "outer_kernel": 5, "full_resolution": False}  # model=light_fast's layout


@pytest.mark.parametrize("arch", [{}, LIGHT, FAST], ids=["johnson", "light", "light_fast"])
@pytest.mark.parametrize("hw", [(1, 1), (5, 3), (17, 64), (33, 47), (64, 64)])
def test_output_size_equals_input_size_for_any_shape(hw, arch):
    net = TransformerNet(width=4, num_res_blocks=1, **arch)
    y = net(torch.rand(2, 3, *hw))
    assert y.shape == (2, 3, *hw)
    assert 0 < y.min() and y.max() < 1


def test_width_and_blocks_are_configurable():
    small, big = TransformerNet(16, 3), TransformerNet(32, 5)
    assert len(small.res_blocks) == 3 and len(big.res_blocks) == 5
    assert small.encoder[2][1].out_channels == 64 and big.encoder[2][1].out_channels == 128
    n_small = sum(p.numel() for p in small.parameters())
    n_big = sum(p.numel() for p in big.parameters())
    assert 1.6e6 < n_big < 1.8e6  # Johnson et al.'s network: about 1.68M parameters
    assert n_small < n_big / 3


def test_uses_instance_norm_reflection_padding_and_no_transposed_conv():
    modules = list(TransformerNet(8, 2).modules())
    kinds = {type(m).__name__ for m in modules}
    assert {"ReflectionPad2d", "Upsample"} <= kinds
    assert sum(isinstance(m, InstanceNorm) and m.weight.shape[0] == 1 for m in modules) == 3 + 2 * 2 + 2
    assert not kinds & {"BatchNorm2d", "ConvTranspose2d"}


def test_input_is_not_modified():
    x = torch.rand(1, 3, 21, 30)
    before = x.clone()
    TransformerNet(4, 1)(x)
    assert torch.equal(x, before)


def test_gradient_checkpointing_gives_same_output_and_gradients():
    torch.manual_seed(0)
    a = TransformerNet(8, 2)
    b = TransformerNet(8, 2, gradient_checkpointing=True)
    b.load_state_dict(a.state_dict())
    x = torch.rand(2, 3, 24, 24)
    ya, yb = a(x), b(x)
    torch.testing.assert_close(ya, yb)
    ya.square().mean().backward()
    yb.square().mean().backward()
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad)


def test_rejects_wrong_channel_count():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        TransformerNet(4, 1)(torch.rand(1, 4, 16, 16))


def test_channels_last_gives_the_same_output_and_gradients():
    """channels_last takes its own instance-norm path (no NCHW copies); it must match float64."""
    torch.manual_seed(0)
    net = TransformerNet(width=8, num_res_blocks=2)
    for module in net.modules():  # non-trivial affine parameters
        if isinstance(module, torch.nn.InstanceNorm2d):
            torch.nn.init.normal_(module.weight, 1.0, 0.2)
            torch.nn.init.normal_(module.bias, 0.0, 0.2)
    net_cl = TransformerNet(width=8, num_res_blocks=2)
    net_cl.load_state_dict(net.state_dict())
    net_cl = net_cl.to(memory_format=torch.channels_last)
    net64 = TransformerNet(width=8, num_res_blocks=2)
    net64.load_state_dict(net.state_dict())
    net64 = net64.double()
    x = torch.rand(2, 3, 48, 40)

    def run(model, inp):
        inp = inp.clone().requires_grad_(True)
        y = model(inp)
        (y * torch.linspace(0, 1, y.numel()).view_as(y).to(y.dtype)).sum().backward()
        return y.double(), inp.grad.double()

    y64, g64 = run(net64, x.double())
    y_cl, g_cl = run(net_cl, x.contiguous(memory_format=torch.channels_last))
    assert y_cl.is_contiguous(memory_format=torch.channels_last)  # stayed channels_last throughout
    assert (y_cl - y64).abs().max() < 1e-5
    assert (g_cl - g64).abs().max() < 1e-4 * g64.abs().max()


def test_light_knobs_shape_the_network_and_round_trip_through_config():
    net = TransformerNet(8, 2, channels=[6, 12, 20], block="inverted", expansion=3, outer_kernel=5)
    assert [layer[1].out_channels for layer in net.encoder] == [6, 12, 20]
    assert net.encoder[0][1].kernel_size == (5, 5) and net.decoder[2][1].kernel_size == (5, 5)
    block = net.res_blocks[0]
    assert block.expand[0].out_channels == 60 and block.depthwise[1].groups == 60  # 1x1 expand, 3x3 depthwise
    assert net.config() == {"width": 8, "num_res_blocks": 2, "channels": [6, 12, 20], "block": "inverted",
                            "expansion": 3, "outer_kernel": 5}
    again = TransformerNet(**net.config())
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in net.state_dict().items()}
    # Johnson's network and channels equal to width's stay the old two keys (old files read alike).
    assert TransformerNet(8, 2, channels=[8, 16, 32], expansion=4).config() == {"width": 8, "num_res_blocks": 2}
    light = TransformerNet(8, 5, outer_kernel=5)
    assert sum(p.numel() for p in light.parameters()) < sum(p.numel() for p in TransformerNet(16, 5).parameters()) / 3


@pytest.mark.parametrize("kwargs, message", [
    ({"block": "dense"}, "block must be one of basic, inverted"),
    ({"outer_kernel": 4}, "outer_kernel must be an odd number"),
    ({"channels": [8, 16]}, "3 channels"),
    ({"channels": [8, 16, 32], "full_resolution": False}, "2 channels"),
    ({"channels": [8, 0, 16]}, "3 channels"),
    ({"expansion": 0}, "expansion"),
])
def test_bad_architecture_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TransformerNet(8, 1, **kwargs)


def test_inverted_block_with_several_styles_mixes_like_the_basic_one():
    torch.manual_seed(0)
    net = TransformerNet(4, 1, num_styles=2, **LIGHT)
    for m in net.modules():
        if isinstance(m, InstanceNorm):
            torch.nn.init.normal_(m.weight, 1.0, 0.5)
    x = torch.rand(1, 3, 24, 24)
    first = net(x, torch.tensor([1.0, 0.0]))
    assert not torch.allclose(first, net(x, torch.tensor([0.0, 1.0])), atol=1e-4)
    single = TransformerNet(4, 1, **LIGHT)
    single.load_state_dict({k: v[:1] if v.dim() == 2 else v for k, v in net.state_dict().items()})
    torch.testing.assert_close(single(x), first)


def test_without_full_resolution_no_convolution_sees_a_full_size_map():
    net = TransformerNet(8, 2, **FAST)
    sizes = []
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_hook(lambda mod, inp, out: sizes.append((inp[0].shape[-2:], mod.stride)))
    net(torch.rand(1, 3, 64, 48))
    # The first convolution reads the (padded) image with stride 2; every other one reads 1/2 or 1/4 maps.
    assert sizes[0][1] == (2, 2) and all(max(hw) <= 32 + 4 for hw, _ in sizes[1:])
    assert net.config() == {"width": 8, "num_res_blocks": 2, "channels": [4, 6], "outer_kernel": 5,
                            "full_resolution": False}
    assert TransformerNet(8, 2, full_resolution=False).config() == {"width": 8, "num_res_blocks": 2,
                                                                   "full_resolution": False}  # (16, 32)
    again = TransformerNet(**net.config())
    again.load_state_dict(net.state_dict())  # same shapes


def test_subpixel_head_starts_without_checkerboard():
    """ICNR initialisation: before training, every 2x2 output block of the sub-pixel layer is one value
    (nearest-neighbour upsampling of a convolution), so a fresh network has no checkerboard to unlearn."""
    from stylenet.models import SubpixelConvLayer
    torch.manual_seed(0)
    head = SubpixelConvLayer(6, 3, 3)
    y = head(torch.rand(2, 6, 10, 12))
    assert y.shape == (2, 3, 20, 24)
    for dy, dx in [(0, 1), (1, 0), (1, 1)]:
        torch.testing.assert_close(y[..., dy::2, dx::2], y[..., 0::2, 0::2])
    assert y.std() > 0  # not trivially constant


@pytest.mark.parametrize("style", ["none", "weights", "map"])
def test_fixed_statistics_of_the_input_itself_give_the_plain_instance_norm(style):
    """Tiles normalise with statistics recorded on a reference (stylenet.models.fixed_norm_stats), in one fused
    pass (x * s + (shift - mean * s)): with the input itself as the reference that is the plain norm, for one
    style, style weights and a style map."""
    torch.manual_seed(0)
    norm = InstanceNorm(6, num_styles=1 if style == "none" else 3)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.normal_()
    x = torch.randn(1, 6, 20, 24) * 3 + 2
    given = {"none": None, "weights": torch.tensor([[0.2, 0.5, 0.3]]),
             "map": torch.softmax(torch.randn(1, 3, 20, 24), dim=1)}[style]
    plain = norm(x, given)
    norm.stats_mode = "record"
    recorded = norm(x, given)
    norm.stats_mode = "use"
    reused = norm(x * 1.0, given)
    torch.testing.assert_close(recorded, plain, atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(reused, plain, atol=2e-5, rtol=1e-5)
    other = torch.randn(1, 6, 10, 12)  # statistics of another image: not the input's own
    norm.stats_mode = "record"
    norm(other, torch.nn.functional.interpolate(given, size=(10, 12)) if style == "map" else given)
    norm.stats_mode = "use"
    assert (norm(x, given) - plain).abs().max() > 0.1
