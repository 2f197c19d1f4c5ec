import pytest
import torch

from stylenet.losses import PerceptualLoss, content_loss, gram_matrix, style_loss, tv_loss


def test_gram_matrix_hand_computed():
    # One image, C=2 channels, H=1, W=2: features a=[1, 2], b=[3, 4].
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    expected = torch.tensor([[[1 + 4, 3 + 8], [3 + 8, 9 + 16]]]) / (2 * 1 * 2)
    torch.testing.assert_close(gram_matrix(f), expected)


def test_gram_matrix_is_batched_and_float32():
    f = torch.randn(3, 4, 5, 6, dtype=torch.bfloat16)
    g = gram_matrix(f)
    assert g.shape == (3, 4, 4) and g.dtype == torch.float32
    torch.testing.assert_close(g[1], gram_matrix(f[1:2])[0])


def test_gram_and_loss_reductions_stay_float32_under_autocast():
    """bf16 autocast would run the Gram product in bf16 (8-bit mantissa): its sums over H*W must stay fp32."""
    torch.manual_seed(0)
    f = torch.rand(2, 8, 32, 32) * 10
    reference = gram_matrix(f.double()).float()
    with torch.autocast("cpu", torch.bfloat16):
        g = gram_matrix(f)
        c = content_loss(f, f * 0.9)
        s = style_loss(g, reference[:1])
        t = tv_loss(f)
    assert g.dtype == c.dtype == s.dtype == t.dtype == torch.float32
    torch.testing.assert_close(g, reference, rtol=1e-5, atol=1e-5)  # bf16 products miss by ~1e-2
    torch.testing.assert_close(c, content_loss(f.double(), f.double() * 0.9).float(), rtol=1e-5, atol=0)


def test_content_style_tv_values():
    assert content_loss(torch.ones(1, 2, 2, 2), torch.zeros(1, 2, 2, 2)).item() == 1.0
    assert style_loss(torch.full((2, 3, 3), 2.0), torch.zeros(1, 3, 3)).item() == 4.0
    assert tv_loss(torch.zeros(1, 3, 8, 8)).item() == 0.0
    # Alternating columns: every horizontal neighbour differs by 1, vertical ones by 0.
    stripes = torch.zeros(1, 1, 4, 4)
    stripes[..., ::2] = 1.0
    assert tv_loss(stripes).item() == pytest.approx(1.0)


def test_perceptual_loss_terms_and_weights():
    loss = PerceptualLoss({"relu2_2": 1.0}, {"relu1_2": 1.0, "relu2_2": 0.5}, content_weight=2.0,
                          style_weight=3.0, tv_weight=4.0)
    style = torch.rand(1, 3, 40, 56)
    loss.set_style(style)
    x = torch.rand(2, 3, 32, 32)
    terms = loss(x, x)
    assert terms["content"].item() == 0.0  # output == content photo
    assert terms["style"].item() > 0 and terms["tv"].item() > 0
    torch.testing.assert_close(terms["total"], terms["content"] + terms["style"] + terms["tv"])
    torch.testing.assert_close(terms["tv"], 4.0 * tv_loss(x))
    # The style image against itself has zero style loss (batch of one, same size).
    assert loss(style, style)["style"].item() == pytest.approx(0.0, abs=1e-3)


def test_style_targets_are_not_in_state_dict_and_required():
    loss = PerceptualLoss({"relu1_2": 1.0}, {"relu1_2": 1.0})
    with pytest.raises(RuntimeError, match="set_style"):
        loss(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16))
    loss.set_style(torch.rand(1, 3, 16, 16))
    assert not any(k.startswith("gram") for k in loss.state_dict())


def test_loss_does_not_modify_inputs_and_has_gradient():
    loss = PerceptualLoss({"relu2_2": 1.0}, {"relu1_2": 1.0})
    loss.set_style(torch.rand(1, 3, 16, 16))
    out = torch.rand(1, 3, 16, 16, requires_grad=True)
    content = torch.rand(1, 3, 16, 16)
    c0 = content.clone()
    loss(out, content)["total"].backward()
    assert torch.equal(content, c0) and out.grad.abs().sum() > 0
    assert not content.requires_grad


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_a_gram_matrix_summed_in_pieces_is_the_same_sum(dtype):
    """gram_matrix(chunk=...): the H*W sum in pieces, one product each, added: the same matrix (fp32 sums
    in another order) and the same gradient; a chunk that does not divide H*W (or covers it) is one piece."""
    torch.manual_seed(0)
    f = torch.randn(3, 8, 16, 32).to(dtype).requires_grad_()
    whole = gram_matrix(f)
    pieces = gram_matrix(f, chunk=64)
    assert pieces.dtype == torch.float32 and pieces.shape == (3, 8, 8)
    torch.testing.assert_close(pieces, whole, rtol=1e-5, atol=1e-6)
    (grad_whole,) = torch.autograd.grad(whole.square().sum(), f)
    (grad_pieces,) = torch.autograd.grad(pieces.square().sum(), f)
    torch.testing.assert_close(grad_pieces, grad_whole, rtol=1e-2 if dtype == torch.bfloat16 else 1e-5, atol=1e-6)
    for chunk in (None, 100, 512, 4096):  # none, not a divisor, all of it, more than all: one product
        assert torch.equal(gram_matrix(f, chunk=chunk), whole)


def test_the_style_loss_is_the_same_with_the_gram_matrices_in_pieces():
    torch.manual_seed(0)
    loss = PerceptualLoss({"relu2_2": 1.0}, {"relu1_2": 1.0, "relu2_2": 1.0}, style_weight=1e5)
    loss.set_style(torch.rand(1, 3, 32, 32))
    photo, output = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    whole = loss(output, photo)["style"]
    loss.gram_chunk = 256  # relu1_2: 4 pieces of the 32 x 32 positions; relu2_2 (16 x 16): one
    torch.testing.assert_close(loss(output, photo)["style"], whole, rtol=1e-5, atol=0)
