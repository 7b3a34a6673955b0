import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from common.cli import run
from common.errors import UserError
from common.flops import count_flops_released, count_params
from mobilenet_search_space.flops_table import (FlopsTable, build_table, default_table, layer_resolutions, table_for)
from mobilenet_search_space.flops import main as flops_main
from mobilenet_search_space.model import build_model
from mobilenet_search_space.space import BLOCKS, PAPER_ARCH, MobileNetSpace, layer_specs

from conftest import ROOT

SPACE = MobileNetSpace()
PAPER_STR = "2 0 -1 2 2 0 2 4 0 4 4 2 4 2 4 2 0 0 0 2 2"


def test_released_counter_convention_on_a_hand_counted_network():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=True), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(8, 10))
    # thop: conv multiply-adds + one add per output for the bias; linear (2*in - 1) per output
    assert count_flops_released(net, torch.zeros(1, 3, 16, 16)) == (3 * 9 * 8 * 256 + 8 * 256) + (2 * 8 - 1) * 10


def test_paper_architecture_has_the_papers_flops_and_params():
    table = default_table()
    flops_m, params_m = table.flops_m([PAPER_ARCH])[0], table.params_m([PAPER_ARCH])[0]
    assert abs(flops_m - 473) < 1 and abs(params_m - 5.3) < 0.05  # paper Table 5: 473M, 5.3M
    assert flops_m == pytest.approx(473.248184, abs=1e-6)  # docs/reference.md §5.7 (computed): 473.25M
    assert table.pre[0] == 30_105_600 and table.post[0] == 40_033_304  # docs/reference.md §5.5 (computed)
    net = build_model(PAPER_ARCH, 1000)  # a real network, real arithmetic
    assert count_flops_released(net, torch.zeros(1, 3, 224, 224)) == table.flops([PAPER_ARCH])[0]


def analytic_block_flops(c_in, c_out, stride, kernel, expansion, r):
    hidden, out = c_in * expansion, (r - 1) // stride + 1
    return c_in * hidden * r * r + hidden * kernel * kernel * out * out + hidden * c_out * out * out


def test_shipped_table_equals_an_analytic_count():
    table = default_table()
    assert table.matches(224, 1000, 1.0)
    for spec, r in zip(layer_specs(), layer_resolutions(224)):
        for b, (kernel, expansion) in enumerate(BLOCKS):
            assert table.block_flops[spec.index, b] == analytic_block_flops(spec.c_in, spec.c_out, spec.stride, kernel, expansion, r)
            hidden = spec.c_in * expansion
            assert table.block_params[spec.index, b] == spec.c_in * hidden + hidden * kernel**2 + hidden * spec.c_out + 4 * hidden + 2 * spec.c_out
    stem = 3 * 40 * 9 * 112**2 + 40 * 9 * 112**2 + 40 * 24 * 112**2
    head = 432 * 1728 * 49 + (2 * 1728 - 1) * 1000
    assert table.pre[0] == stem and table.post[0] == head


def thop_count(arch, num_classes, size):
    """FLOPs and params of the built network by the released thop's rules, with forward hooks: an
    independent counter from the flop-counter-built table."""
    with torch.device("meta"):  # skip the costly initialisation: the values do not matter to a count
        net = build_model(arch, num_classes)
    net, x = net.to_empty(device="cpu"), torch.zeros(1, 3, size, size)
    total = 0

    def hook(module, _inputs, out):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k_h, k_w = module.kernel_size
            total += module.in_channels // module.groups * k_h * k_w * out.numel()
        elif isinstance(module, nn.Linear):
            total += (2 * module.in_features - 1) * out.numel()

    for module in net.modules():
        module.register_forward_hook(hook)
    with torch.no_grad():
        net.eval()(x)
    return total, count_params(net)


def test_table_sums_equal_a_direct_count_of_the_built_network():
    rng = np.random.default_rng(0)
    archs = [SPACE.random(rng) for _ in range(50)]
    table = default_table()
    for arch, flops, params in zip(archs, table.flops(archs), table.params(archs)):
        assert thop_count(arch, 1000, 224) == (flops, params)
    small = build_table(64, 10)  # a table counted now for another setting
    for arch, flops, params in zip(archs[:5], small.flops(archs), small.params(archs)):
        assert thop_count(arch, 10, 64) == (flops, params)
    with torch.device("meta"):  # and common.flops' counter on a whole network
        net, x = build_model(archs[0], 1000), torch.zeros(1, 3, 224, 224)
    assert count_flops_released(net, x) == table.flops(archs[:1])[0]
    assert small.flops(archs).max() < table.flops(archs).min()


def test_tables_round_trip_and_bad_tables_are_user_errors(tmp_path):
    table = build_table(32, 10, 0.5)
    table.save(tmp_path / "t.json")
    again = FlopsTable.load(tmp_path / "t.json")
    assert again.matches(32, 10, 0.5) and np.array_equal(again.block_flops, table.block_flops)
    assert again.pre == table.pre and again.post == table.post
    assert table_for(32, 10, 0.5, str(tmp_path / "t.json")).pre == table.pre
    with pytest.raises(UserError, match="the config asks for 224, 1000"):
        table_for(224, 1000, 1.0, str(tmp_path / "t.json"))
    data = json.loads((tmp_path / "t.json").read_text())
    del data["layers"][3]["blocks"]["k7_e6"]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match="malformed FLOPs table"):
        FlopsTable.load(tmp_path / "bad.json")
    (tmp_path / "junk.json").write_text("{")
    with pytest.raises(UserError, match="not a JSON file"):
        FlopsTable.load(tmp_path / "junk.json")


def test_flops_command_prints_json():
    cmd = [sys.executable, "-m", "mobilenet_search_space.flops", "--arch"]
    ok = subprocess.run(cmd + [PAPER_STR], cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"flops_M": pytest.approx(473.248184), "params_M": pytest.approx(5.255648)}


def test_flops_command_errors_are_one_line(capsys):
    assert run(flops_main, ["--arch", "0 " * 20 + "-1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "layer 20 has -1" in err
    assert run(flops_main, ["--arch", PAPER_STR, "--table", "/nonexistent.json"]) == 2
    assert "FLOPs table not found" in capsys.readouterr().err
