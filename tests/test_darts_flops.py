import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from common.flops import count_flops_released, count_params
from darts_search_space.flops import NetworkShape, costs, main
from darts_search_space.genotypes import resolve
from darts_search_space.model import network_cifar, network_imagenet
from darts_search_space.space import random_arch

ROOT = Path(__file__).resolve().parents[1]


# Paper Tables 3 and 4 (ImageNet, 224x224, auxiliary head excluded), with the exact values of the
# released counting rules (docs/reference.md §7 and §10.2).
@pytest.mark.parametrize("name, channels, flops_m, params_m, exact", [
    ("RLNAS_CIFAR10", 48, 629, 5.7, 629.1), ("RLNAS_CIFAR10", 46, 581, 5.3, 580.6),
    ("RLNAS_IMAGENET_600M", 48, 597, 5.5, 596.8), ("RLNAS_IMAGENET", 48, 724, 6.6, 723.9),
    ("RLNAS_IMAGENET", 42, 561, 5.2, None), ("DARTS_V2", 48, None, None, 530.7),
])
def test_paper_flops_and_params(name, channels, flops_m, params_m, exact):
    flops, params = costs([resolve(name)], NetworkShape.of("imagenet", channels))
    if flops_m is not None:
        assert round(flops[0] / 1e6) == flops_m and round(params[0] / 1e6, 1) == params_m
    if exact is not None:
        assert round(flops[0] / 1e6, 1) == exact


def test_table_equals_counting_the_built_imagenet_network():
    arch = resolve("RLNAS_CIFAR10")
    model = network_imagenet(arch, channels=16, auxiliary=True)  # full 224x224 geometry, fewer channels
    shape = NetworkShape.of("imagenet", 16)
    flops, params = costs([arch], shape)
    assert flops[0] == count_flops_released(model, torch.zeros(1, 3, 224, 224))
    assert params[0] == count_params(model, exclude=("auxiliary",))


def test_table_equals_counting_random_cifar_networks():
    rng = np.random.default_rng(0)
    archs = [random_arch(rng) for _ in range(6)]
    shape = NetworkShape(channels=6, layers=5, stem="cifar", image_size=32, num_classes=10)
    flops, params = costs(archs, shape)
    for arch, f, p in zip(archs, flops, params):
        model = network_cifar(arch, 10, channels=6, layers=5, auxiliary=True)
        assert f == count_flops_released(model, torch.zeros(1, 3, 32, 32))
        assert p == count_params(model, exclude=("auxiliary",))


def test_flops_command_prints_json(capsys):
    main(["--arch", "RLNAS_CIFAR10", "--dataset", "imagenet", "--init-channels", "46"])
    assert json.loads(capsys.readouterr().out) == {"flops_M": 580.550648, "params_M": 5.257581}


def test_flops_command_bad_input_exits_2():
    result = subprocess.run([sys.executable, "-m", "darts_search_space.flops", "--arch", "nonsense"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "unknown genotype" in result.stderr
