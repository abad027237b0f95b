"""explain(): every method, 2D and 3D, classifiers and segmentation models, chunking and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _explain_helpers import small_cnn
from torch import nn

import medimg_kernel as mk
from medimg_kernel.errors import ConfigError, ShapeMismatchError
from medimg_kernel.explain import conv_layers

METHODS = ["gradient", "smoothgrad", "integrated_gradients", "gradcam", "gradcampp", "occlusion"]
FAST = {"smoothgrad": {"n_samples": 4}, "integrated_gradients": {"n_steps": 8}}


def _seg(spatial_dims: int = 2) -> nn.Module:
    conv = nn.Conv2d if spatial_dims == 2 else nn.Conv3d
    torch.manual_seed(0)
    return nn.Sequential(conv(1, 4, 3, padding=1), nn.ReLU(), conv(4, 3, 3, padding=1))


@pytest.mark.parametrize("method", METHODS)
def test_2d_maps_align_with_input(method):
    torch.manual_seed(0)
    model = small_cnn(2)
    x = torch.rand(3, 1, 24, 24)
    maps = mk.explain(model, x, method=method, target=1, **FAST.get(method, {}))
    assert isinstance(maps, np.ndarray) and maps.dtype == np.float32
    assert maps.shape == (3, 24, 24)
    assert np.isfinite(maps).all() and maps.min() >= 0
    # each map is scaled to max 1; Grad-CAM of an untrained net may have no positive evidence at all (all 0)
    peaks = maps.reshape(3, -1).max(1)
    assert np.all(np.isclose(peaks, 1.0) | ((peaks == 0) & method.startswith("gradcam")))
    single = mk.explain(model, x[0], method=method, target=1, **FAST.get(method, {}))
    assert single.shape == (24, 24)


@pytest.mark.parametrize("method", METHODS)
def test_3d_maps_align_with_input(method):
    torch.manual_seed(0)
    model = small_cnn(3, width=4)
    x = torch.rand(2, 1, 12, 16, 16)
    kw = dict(FAST.get(method, {}))
    if method == "occlusion":
        kw.update(mask_size=6, overlap=0.0)
    maps = mk.explain(model, x, method=method, **kw)
    assert maps.shape == (2, 12, 16, 16)
    assert np.isfinite(maps).all() and maps.max() > 0
    # a 3D image without batch axis: (C, D, H, W) is recognised from the model's Conv3d
    assert mk.explain(model, x[0], method=method, **kw).shape == (12, 16, 16)


def test_occlusion_bounding_box_limits_work_to_the_box():
    torch.manual_seed(0)
    model = small_cnn(3, width=4)
    x = torch.rand(1, 1, 16, 16, 16)
    box = [4, 11, 4, 11, 4, 11]
    m = mk.explain(
        model, x, method="occlusion", mask_size=4, overlap=0.0, b_box=box, normalize=False, signed=True
    )
    assert m.shape == (1, 16, 16, 16)
    outside = np.ones_like(m, dtype=bool)
    outside[:, 4:11, 4:11, 4:11] = False
    assert np.all(m[outside] == 0) and np.any(m[~outside] != 0)


def test_occlusion_finds_the_only_informative_pixel_block():
    # a "model" whose logit is the mean of one 4x4 block: only occluding that block changes it
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            s = x[:, :, 8:12, 16:20].mean((1, 2, 3))
            return torch.stack([-s, s], 1) + self.w

    m = mk.explain(
        Block(), torch.ones(1, 1, 24, 24), method="occlusion", target=1, mask_size=4, overlap=0.0, mode=0.0
    )
    peak = np.unravel_index(m[0].argmax(), m[0].shape)
    assert 8 <= peak[0] < 12 and 16 <= peak[1] < 20
    assert m[0, :4, :4].max() == 0


def test_signed_gradient_recovers_a_linear_model():
    lin = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    with torch.no_grad():
        lin[1].weight.zero_()
        lin[1].weight[1, 5] = 2.0
        lin[1].weight[1, 6] = -1.0
    g = mk.explain(
        lin, torch.rand(1, 1, 4, 4), method="gradient", target=1, signed=True, normalize=False, spatial_dims=2
    )
    assert g[0].ravel()[5] == pytest.approx(2.0) and g[0].ravel()[6] == pytest.approx(-1.0)
    assert np.count_nonzero(g) == 2


def test_integrated_gradients_completeness():
    torch.manual_seed(0)
    model = small_cnn(2)
    x = torch.rand(2, 1, 16, 16)
    ig = mk.explain(model, x, method="ig", target=1, signed=True, normalize=False, n_steps=64)
    with torch.no_grad():
        diff = (model(x)[:, 1] - model(torch.zeros_like(x))[:, 1]).numpy()
    np.testing.assert_allclose(ig.reshape(2, -1).sum(1), diff, rtol=0.05, atol=1e-3)


@pytest.mark.parametrize("sd", [2, 3])
@pytest.mark.parametrize("method", ["gradient", "gradcam", "occlusion"])
def test_segmentation_region_explanations(sd, method):
    model = _seg(sd)
    shape = (10,) * sd
    x = torch.rand(2, 1, *shape)
    region = np.zeros(shape, dtype=bool)
    region[(slice(2, 5),) * sd] = True
    kw = {"mask_size": 4, "overlap": 0.0} if method == "occlusion" else {}
    maps = mk.explain(model, x, method=method, target=2, mask=region, **kw)
    assert maps.shape == (2, *shape)
    if method == "gradient":
        # two 3x3 convs: only pixels within 2 of the region can influence its logits
        far = np.ones(shape, dtype=bool)
        far[(slice(0, 7),) * sd] = False
        assert maps[:, far].max() == 0 and maps.max() > 0
    # no mask: the region the model predicts as the target class is explained
    assert mk.explain(model, x, method=method, target=1, **kw).shape == (2, *shape)


def test_target_out_of_range_is_a_clear_error():
    model = small_cnn(2)
    with pytest.raises(ConfigError, match=r"valid targets are 0\.\.1"):
        mk.explain(model, torch.rand(1, 1, 16, 16), method="gradient", target=2)
    with pytest.raises(ConfigError, match="out of range"):
        mk.explain(model, torch.rand(2, 1, 16, 16), method="gradcam", target=[0, -1])
    with pytest.raises(ShapeMismatchError, match="3 targets for a batch of 2"):
        mk.explain(model, torch.rand(2, 1, 16, 16), method="gradient", target=[0, 1, 1])


def test_unknown_method_lists_choices():
    with pytest.raises(ConfigError, match="gradcam.*occlusion"):
        mk.explain(small_cnn(2), torch.rand(1, 1, 16, 16), method="lime")


def test_gradcam_on_non_conv_model_names_usable_layers():
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 2))
    with pytest.raises(ConfigError, match="no(ne)? .*convolution|method='gradient'"):
        mk.explain(mlp, torch.rand(1, 1, 8, 8), method="gradcam", spatial_dims=2)
    model = small_cnn(2)
    with pytest.raises(ConfigError, match=r"usable layers: .*\b6\b"):
        mk.explain(model, torch.rand(1, 1, 16, 16), method="gradcam", layer="not_a_layer")
    with pytest.raises(ConfigError, match="no spatial output"):
        mk.explain(model, torch.rand(1, 1, 16, 16), method="gradcam", layer="10")  # Flatten
    assert conv_layers(model) == ["0", "3", "6"]
    # an explicit layer gives that layer's Grad-CAM, computed here by hand from its activations and gradients
    torch.manual_seed(0)
    x = torch.rand(1, 1, 16, 16)
    early = np.asarray(mk.explain(model, x, method="gradcam", layer="3", target=1))
    np.testing.assert_allclose(early[0], _gradcam_by_hand(model, x, 3, 1), atol=1e-5)
    first = np.asarray(mk.explain(model, x, method="gradcam", layer="0", target=1))
    assert np.abs(first - early).max() > 0.1  # another layer, another map


def _gradcam_by_hand(model: nn.Module, x: torch.Tensor, layer: int, target: int) -> np.ndarray:
    """Selvaraju et al. 2017: ReLU of the layer's maps weighted by their mean gradients, bilinear up, max 1."""
    acts = []
    hook = model[layer].register_forward_hook(lambda m, i, o: acts.append(o))
    out = model(x)
    hook.remove()
    (grad,) = torch.autograd.grad(out[0, target], acts[0])
    cam = torch.relu((grad.mean((2, 3), keepdim=True) * acts[0]).sum(1, keepdim=True))
    cam = torch.nn.functional.interpolate(cam, size=x.shape[2:], mode="bilinear", align_corners=False)[0, 0]
    return (cam / cam.max()).detach().numpy()


def test_non_differentiable_model_is_refused_for_gradients_but_occlusion_works():
    class ArgMax(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = small_cnn(2)

        def forward(self, x):
            with torch.no_grad():
                return self.net(x)

    with pytest.raises(ConfigError, match="not differentiable.*occlusion"):
        mk.explain(ArgMax(), torch.rand(1, 1, 16, 16), method="gradient")
    with pytest.raises(ConfigError, match="not differentiable"):
        mk.explain(ArgMax(), torch.rand(1, 1, 16, 16), method="gradcam")
    assert mk.explain(ArgMax(), torch.rand(1, 1, 16, 16), method="occlusion", mask_size=4).shape == (
        1,
        16,
        16,
    )


def test_bad_image_shape():
    with pytest.raises(ShapeMismatchError, match="spatial"):
        mk.explain(small_cnn(2), torch.rand(1, 1, 1, 16, 16), method="gradient")


@pytest.mark.parametrize("method", ["gradient", "integrated_gradients", "gradcam"])
def test_chunking_gives_the_same_maps(method):
    torch.manual_seed(0)
    model = small_cnn(2)
    x = torch.rand(10, 1, 16, 16)
    kw = FAST.get(method, {})
    whole = mk.explain(model, x, method=method, target=1, batch_size=10, **kw)
    assert mk.explain.last_run()["chunks"] == 1
    tiny_budget = mk.explain(model, x, method=method, target=1, memory_budget_mb=0.05, **kw)
    assert mk.explain.last_run()["chunks"] > 1
    np.testing.assert_allclose(whole, tiny_budget, rtol=1e-4, atol=1e-5)


def test_out_of_memory_halves_the_chunk():
    class OOMAbove(nn.Module):
        """Raises an out-of-memory error for batches larger than 2 (as a GPU would)."""

        def __init__(self):
            super().__init__()
            self.net = small_cnn(2)

        def forward(self, x):
            if x.shape[0] > 2:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return self.net(x)

    torch.manual_seed(0)
    model = OOMAbove()
    x = torch.rand(7, 1, 16, 16)
    maps = mk.explain(model, x, method="gradient", target=1, batch_size=8)
    assert maps.shape == (7, 16, 16) and mk.explain.last_run()["chunks"] == 4
    ref = mk.explain(model.net, x, method="gradient", target=1)
    np.testing.assert_allclose(maps, ref, rtol=1e-5, atol=1e-6)


def test_no_hooks_leak_and_mode_restored():
    model = small_cnn(2).train()
    for _ in range(3):
        mk.explain(model, torch.rand(2, 1, 16, 16), method="gradcampp")
    assert all(not m._forward_hooks and not m._backward_hooks for m in model.modules())
    assert model.training


def test_callable_module_and_method_listing():
    import medimg_kernel.explain as ex

    assert callable(mk.explain) and callable(ex)
    assert set(ex.methods()) == set(METHODS)
    assert ex.explain(small_cnn(2), np.random.rand(16, 16).astype("float32"), method="gradient").shape == (
        16,
        16,
    )
