import pytest
import torch

from stylenet.transformer import TransformerNet


@pytest.mark.parametrize("hw", [(1, 1), (5, 3), (17, 64), (33, 47), (64, 64)])
def test_output_size_equals_input_size_for_any_shape(hw):
    net = TransformerNet(width=4, num_res_blocks=1)
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
    assert sum(isinstance(m, torch.nn.InstanceNorm2d) and m.affine for m in modules) == 3 + 2 * 2 + 2
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
