"""Zero-cost proxies against hand computations on tiny networks, and the NB201 proxy scorer."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from common import proxies
from common.proxies import compute_proxies


def two_layer(bias: bool = False) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3, bias=bias), nn.ReLU(), nn.Linear(3, 2, bias=bias))


def test_synflow_of_a_linear_chain_is_layers_times_the_path_sum():
    # With |W| and an all-ones input R = 1^T |W2| |W1| 1, and each layer's saliency sums to R.
    model = two_layer()
    w1, w2 = model[0].weight.detach().double().abs(), model[2].weight.detach().double().abs()
    r = float(torch.ones(2, dtype=torch.float64) @ w2 @ w1 @ torch.ones(4, dtype=torch.float64))
    assert proxies.synflow(model, torch.randn(5, 4)) == pytest.approx(2 * r, rel=1e-12)
    assert model[0].weight.min() < 0  # the model itself keeps its signs


def test_snip_and_grad_norm_match_the_analytic_gradient_of_softmax_regression():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 3, bias=False))
    x, y = torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    w = model[0].weight.detach().double().numpy()
    z = x.double().numpy() @ w.T
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(6), y.numpy()] -= 1
    grad = p.T @ x.double().numpy() / 6  # dL/dW of the mean cross-entropy
    assert proxies.snip(model, x, y) == pytest.approx(np.abs(w * grad).sum(), rel=1e-5)
    assert proxies.grad_norm(model, x, y) == pytest.approx(np.linalg.norm(grad), rel=1e-5)


def test_params_and_flops_are_exact():
    model = two_layer(bias=True)
    assert proxies.params(model) == pytest.approx((4 * 3 + 3 + 3 * 2 + 2) / 1e6)
    assert proxies.flops(model, torch.randn(7, 4)) == pytest.approx((4 * 3 + 3 * 2) / 1e6)  # per image


def test_naswot_is_the_log_determinant_of_the_hamming_kernel():
    model = two_layer()
    x = torch.randn(5, 4)
    codes = (model[0](x) > 0).double()
    kernel = codes @ codes.T + (1 - codes) @ (1 - codes).T
    assert proxies.naswot(model, x) == pytest.approx(float(torch.linalg.slogdet(kernel)[1]), rel=1e-9)


def test_jacov_of_a_linear_network_sees_identical_jacobians():
    # f(x) = sum(W x): every image has the same input gradient, so the correlation matrix is all ones
    # (eigenvalues n and n-1 zeros).
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(4, 3, bias=False))
    n, k = 5, 1e-5
    expected = -(math.log(n + k) + 1 / (n + k)) - (n - 1) * (math.log(k) + 1 / k)
    assert proxies.jacov(model, torch.randn(n, 4)) == pytest.approx(expected, rel=1e-6)


def test_compute_proxies_leaves_the_network_unchanged_and_rejects_unknown_names():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, 3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = torch.randn(8, 3, 8, 8), torch.randint(3, (8,))
    values = compute_proxies(model, x, y)
    assert set(values) == set(proxies.PROXIES) and all(np.isfinite(v) for v in values.values())
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    with pytest.raises(ValueError, match="unknown proxy"):
        compute_proxies(model, x, y, ["synflow", "zen"])


def test_nb201_proxy_params_equal_the_benchmark_parameter_counts(nb201_table_path):
    from common.config import load_config
    from nas_bench_201.benchmark import BenchmarkTable
    from nas_bench_201.config import NB201Config
    from common.scoring import ProxyScorer
    from nas_bench_201.space import SPACE, benchmark_archs

    cfg = load_config("configs/nas_bench_201/quickstart.yaml", NB201Config,
                      ["model.channels=16", "model.cells_per_stage=5", "search.score=params", "search.proxy_batch=4",
                       "data.synthetic.num_images=16"])
    table = BenchmarkTable.load(nb201_table_path)
    scorer = ProxyScorer(SPACE, cfg, "params")
    indices = [0, 1, 777, 15624]
    values = scorer(benchmark_archs()[indices])
    assert values == pytest.approx(table.metric("params_cifar10_M")[indices], abs=1e-6)
    assert set(scorer.cache[next(iter(scorer.cache))]) == set(proxies.PROXIES)  # all proxies memoised at once


def test_proxies_of_a_network_that_ignores_its_input_are_finite():
    # An NB201 cell with every path cut: the output does not depend on the image.
    class Cut(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.head = nn.Conv2d(3, 2, 1), nn.Linear(2, 3)

        def forward(self, x):
            return self.head(self.conv(torch.zeros_like(x)).mean(dim=(2, 3)))

    values = compute_proxies(Cut(), torch.randn(4, 3, 5, 5), torch.tensor([0, 1, 2, 0]))
    n, k = 4, 1e-5
    assert values["jacov"] == pytest.approx(-n * (math.log(k) + 1 / k))  # the lowest possible score
    assert values["naswot"] == proxies.LOWEST  # identical codes for every image: a singular kernel
    assert all(np.isfinite(v) for v in values.values())
