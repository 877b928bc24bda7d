"""The unet's GEGLU with its product formed in place (as the released inference code did)."""

import torch
from diffusers.models.activations import GEGLU

from mimicmotion.models.geglu import InPlaceGEGLU, use_in_place_geglu


def pair(seed=0):
    torch.manual_seed(seed)
    stock = GEGLU(16, 24)
    patched = GEGLU(16, 24)
    patched.load_state_dict(stock.state_dict())
    return stock, use_in_place_geglu(patched)


def test_same_values_as_the_stock_geglu_with_and_without_gradients():
    stock, patched = pair()
    assert type(patched) is InPlaceGEGLU
    x = torch.randn(3, 5, 16)
    with torch.no_grad():
        assert torch.equal(patched(x), stock(x))
    assert torch.equal(patched(x), stock(x))


def test_without_gradients_the_product_lives_in_the_projection_buffer():
    _, patched = pair()
    with torch.no_grad():
        out = patched(torch.randn(2, 16))
    # the value half of the (2, 48) projection, written in place: strided, not a fresh tensor
    assert out.shape == (2, 24) and out.stride() == (48, 1)


def test_training_still_gets_gradients():
    stock, patched = pair()
    x = torch.randn(4, 16)
    patched(x).square().sum().backward()
    stock(x).square().sum().backward()
    assert torch.allclose(patched.proj.weight.grad, stock.proj.weight.grad)


def test_only_geglu_modules_change():
    model = torch.nn.Sequential(GEGLU(4, 8), torch.nn.Linear(8, 8))
    keys = list(model.state_dict())
    use_in_place_geglu(model)
    assert type(model[0]) is InPlaceGEGLU and type(model[1]) is torch.nn.Linear
    assert list(model.state_dict()) == keys
