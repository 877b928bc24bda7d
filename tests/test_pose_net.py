"""PoseNet against the paper's Table 3 and the released parameter names; the conv_in hook."""

import pytest
import torch
from helpers.tiny_models import tiny_unet
from torch import nn

from mimicmotion.models.pose_net import PoseNet, pose_conditioning

# Paper, Table 3: (out channels, kernel, stride, pad) of each Conv2d, each followed by SiLU.
TABLE_3 = [
    (3, 3, 1, 1),
    (16, 4, 2, 1),
    (16, 3, 1, 1),
    (32, 4, 2, 1),
    (32, 3, 1, 1),
    (64, 4, 2, 1),
    (64, 3, 1, 1),
    (128, 3, 1, 1),
]


def test_architecture_is_table_3():
    net = PoseNet()
    convs = [m for m in net.conv_layers if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0], c.padding[0]) for c in convs] == TABLE_3
    assert all(isinstance(net.conv_layers[i], nn.SiLU) for i in range(1, 16, 2))
    assert (net.final_proj.in_channels, net.final_proj.out_channels, net.final_proj.kernel_size) == (
        128,
        320,
        (1, 1),
    )


def test_parameter_names_are_the_released_ones():
    expected = {f"conv_layers.{i}.{p}" for i in range(0, 16, 2) for p in ("weight", "bias")}
    expected |= {"final_proj.weight", "final_proj.bias", "scale"}
    assert set(PoseNet().state_dict()) == expected
    assert PoseNet().scale.item() == 2.0


def test_fresh_posenet_adds_nothing_and_output_is_latent_sized():
    net = PoseNet(out_channels=32)
    out = net(torch.rand(3, 3, 64, 96) * 2 - 1)
    assert out.shape == (3, 32, 8, 12)
    assert torch.count_nonzero(out) == 0
    # the convolutions are He-normal initialised, std = sqrt(2 / (k * k * in_channels)), zero biases
    torch.manual_seed(0)
    for conv in (m for m in PoseNet().conv_layers if isinstance(m, nn.Conv2d)):
        fan_in = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
        assert conv.weight.std().item() == pytest.approx((2 / fan_in) ** 0.5, rel=0.25)
        assert torch.count_nonzero(conv.bias) == 0


def test_output_scales_with_scale_and_frames_are_independent():
    torch.manual_seed(0)
    net = PoseNet(out_channels=8).eval()
    nn.init.normal_(net.final_proj.weight)
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        out = net(x)
        net.scale.fill_(6.0)  # from 2 to 6: the output triples
        assert torch.allclose(net(x), 3 * out, atol=1e-6)
        net.scale.fill_(2.0)
        assert torch.allclose(net(x[1:2]), out[1:2], atol=1e-6)  # a frame does not see the others
        assert torch.equal(net(x[None]), out)  # (batch, frames, ...) is flattened
    assert out.shape == (3, 8, 2, 2) and out.abs().max() > 0


def test_hook_adds_features_to_conv_in_output_only_and_is_removed():
    unet = tiny_unet().eval()
    sample = torch.randn(1, 2, 8, 16, 16)
    kwargs = dict(
        encoder_hidden_states=torch.randn(1, 1, 32), added_time_ids=torch.zeros(1, 3), return_dict=False
    )
    seen = {}

    def record(module, args, kwargs):
        seen["x"] = (args[0] if args else kwargs["hidden_states"]).clone()

    unet.down_blocks[0].register_forward_pre_hook(record, with_kwargs=True)
    with torch.no_grad():
        unet(sample, 10.0, **kwargs)
        plain = seen["x"]
        features = torch.randn(2, 32, 16, 16)
        with pose_conditioning(unet, features):
            unet(sample, 10.0, **kwargs)
        conditioned = seen["x"]
        unet(sample, 10.0, **kwargs)
    # what the first down block receives is conv_in's output (+ features inside the block)
    assert torch.allclose(conditioned - plain, features, atol=1e-5)
    assert torch.equal(seen["x"], plain)
    assert not unet.conv_in._forward_hooks


def test_hook_refuses_features_of_the_wrong_shape():
    unet = tiny_unet()
    with (
        pytest.raises(ValueError, match="do not match"),
        torch.no_grad(),
        pose_conditioning(unet, torch.zeros(3, 32, 16, 16)),
    ):
        unet(
            torch.randn(1, 2, 8, 16, 16),
            1.0,
            encoder_hidden_states=torch.randn(1, 1, 32),
            added_time_ids=torch.zeros(1, 3),
        )
