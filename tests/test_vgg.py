"""VGG-19 weight sources and layer naming."""

import pytest
import torch

from painterly.errors import PainterlyError
from painterly.engine.vgg import (
    CAFFE_PREPROCESSING,
    LAYER_INDEX,
    VGGFeatures,
    caffe_state_dict,
    load_vgg,
)

LAYERS = ("block1_conv1", "block3_conv1", "block5_conv2")


def test_keras_names_are_post_relu():
    assert LAYER_INDEX["block5_conv2"] == LAYER_INDEX["relu5_2"] == LAYER_INDEX["conv5_2"] + 1
    assert LAYER_INDEX["block1_conv1"] == 1 and LAYER_INDEX["pool1"] == 4


def test_network_is_frozen_and_cut_after_deepest_layer():
    net = load_vgg("caffe", ["relu2_1"])
    assert len(net.features) == LAYER_INDEX["relu2_1"] + 1
    assert not any(p.requires_grad for p in net.parameters()) and not net.training
    out = net(torch.rand(1, 3, 32, 32))
    assert out["relu2_1"].shape == (1, 128, 16, 16) and float(out["relu2_1"].min()) >= 0


def test_caffe_weights_reproduce_bgr_caffe_convention():
    """conv1_1 was flipped to RGB at load: RGB input through it equals BGR input through the original."""
    state = caffe_state_dict()
    x = torch.rand(1, 3, 8, 8)
    rgb = torch.nn.functional.conv2d(x, state["0.weight"], state["0.bias"])
    bgr = torch.nn.functional.conv2d(x.flip(1), state["0.weight"].flip(1), state["0.bias"])
    assert torch.allclose(rgb, bgr, atol=1e-5)


def torchvision_layout(path):
    torch.save({f"features.{k}": v for k, v in caffe_state_dict().items()}, path)


def features_equal(a, b, x):
    """Same conv stack output for the same (already preprocessed) tensor."""
    with torch.no_grad():
        return all(torch.equal(fa, fb) for fa, fb in zip(a.features(x), b.features(x)))


def test_local_state_dict_matches_caffe_path(tmp_path):
    path = tmp_path / "vgg19.pth"
    torchvision_layout(path)
    from_file = load_vgg(str(path), LAYERS)
    caffe = load_vgg("caffe", LAYERS)
    assert features_equal(from_file, caffe, torch.randn(1, 3, 40, 40) * 50)
    # The file source uses torchvision's preprocessing, the caffe source its own.
    assert from_file.preprocessing != caffe.preprocessing == CAFFE_PREPROCESSING


def test_torchvision_source_reads_its_hub_cache_without_download(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torchvision_layout(checkpoints / "vgg19-dcbb9e9d.pth")  # the file name torchvision's URL maps to
    net = load_vgg("torchvision", LAYERS)
    assert features_equal(net, load_vgg("caffe", LAYERS), torch.randn(1, 3, 40, 40))
    out = net(torch.rand(1, 3, 32, 32))
    assert set(out) == set(LAYERS)


def test_wrong_shapes_name_the_file(tmp_path):
    state = {f"features.{k}": v for k, v in caffe_state_dict().items()}
    state["features.28.weight"] = torch.zeros(512, 256, 3, 3)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(PainterlyError, match=r"bad\.pth: '28\.weight' has shape \(512, 256, 3, 3\)"):
        load_vgg(str(path), LAYERS)


@pytest.mark.parametrize("content, message", [(b"not a checkpoint", "not a loadable state dict"), (None, "not found")])
def test_unreadable_weights_file_is_one_line_error(tmp_path, content, message):
    path = tmp_path / "weights.pth"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(PainterlyError, match=message) as error:
        load_vgg(str(path), LAYERS)
    assert "weights.pth" in str(error.value) and "\n" not in str(error.value)


def test_unknown_layer_is_rejected():
    with pytest.raises(PainterlyError, match="unknown VGG-19 layer 'block6_conv1'"):
        VGGFeatures(caffe_state_dict(), CAFFE_PREPROCESSING, ["block6_conv1"])
