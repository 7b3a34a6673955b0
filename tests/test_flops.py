import torch
from torch import nn

from common.flops import count_macs, count_params


def test_macs_and_params_of_a_small_network_match_hand_counts():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    net.train()
    assert count_macs(net, torch.zeros(1, 3, 32, 32)) == 3 * 8 * 9 * 32 * 32 + 8 * 10
    assert net.training  # the count leaves the mode as it was
    assert count_params(net) == 3 * 8 * 9 + 2 * 8 + 8 * 10 + 10
    assert count_params(net, exclude=["5"]) == 3 * 8 * 9 + 2 * 8
