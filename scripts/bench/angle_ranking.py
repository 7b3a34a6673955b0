"""Angle of all 15,625 NAS-Bench-201 architectures: our engine against the released code's approach.

Builds the paper-size supernet (C=16, N=5, 10 classes); W0 is its initial weights, Wt a copy with
seeded noise. Measures in one run (a) the engine: ``atom_statistics`` once, then
``angles_from_counts(counts(archs), stats)`` for the whole space (best of ``--repeats``); (b) the
released ``get_arch_angle`` re-implemented (per architecture: concatenate path weights in float32 on
the CPU, cosine, acos), timed on ``--sample`` random architectures and extrapolated to 15,625;
(c) that both give the same angles on the sample.

Run from the project root:  python scripts/bench/angle_ranking.py [--device cuda]
"""
from __future__ import annotations

import argparse
import copy
import math
import sys

import numpy as np
import torch

from _timing import best_of, print_table
from common.angle import angles_from_counts, atom_statistics
from nas_bench_201.angle import Layout, atoms, counts
from nas_bench_201.space import EDGES, NUM_ARCHS, OPS, benchmark_archs
from nas_bench_201.supernet import Supernet, SupernetConfig

PATHS = ((0, 3), (0, 2, 3), (0, 1, 2, 3), (0, 1, 3))  # node sequences, in the released loop order
HEAD = ("stem.0.weight", "stem.1.weight", "stem.1.bias")
FIXED_CELL = ("conv_a.op.1.weight", "conv_a.op.2.weight", "conv_a.op.2.bias", "conv_b.op.1.weight",
              "conv_b.op.2.weight", "conv_b.op.2.bias", "downsample.1.weight")
TAIL = ("lastact.0.weight", "lastact.0.bias", "classifier.weight", "classifier.bias")
TOL32, TOL64 = 1e-3, 1e-8  # radians: float32 sums over ~1e6 terms err ~1e-5 relative; float64 only rounds


def arch_vector(nodes, model: Supernet) -> tuple[torch.Tensor, int]:
    """The released loop: head, then per path and per cell the path's weights, fixed cells once, tail."""
    params = dict(model.named_parameters())
    fixed_cells = [c for c, (kind, _) in enumerate(model.layout) if kind == "reduce"]
    vector = [params[name].view(-1) for name in HEAD]
    fixed_added, cut_paths = 0, 0
    for path in PATHS:
        for cell in range(len(model.layout)):
            if cell in fixed_cells:
                if fixed_added < len(fixed_cells):
                    vector += [params[f"cells.{cell}.{name}"].view(-1) for name in FIXED_CELL]
                    fixed_added += 1
                continue
            pieces, cut = [], False
            for j, i in zip(path, path[1:]):
                op, edge = nodes[i - 1][j], f"cells.{cell}.edges.{i}<-{j}"
                if op == "none":
                    cut = True
                    break
                if op == "avg_pool_3x3":  # constant 1/9 block, length C_out*9 of this edge's 3x3 conv
                    c_out = params[f"{edge}.{OPS.index('nor_conv_3x3')}.op.1.weight"].shape[0]
                    pieces.append(torch.full((c_out * 9,), 1 / 9))
                elif op in ("nor_conv_1x1", "nor_conv_3x3"):
                    pieces.append(params[f"{edge}.{OPS.index(op)}.op.1.weight"].view(-1))
                elif op != "skip_connect":
                    raise ValueError("Invalid Operators!")
            if cut:
                cut_paths += 1
                break  # as released: a cut path skips the remaining cells
            if pieces:
                vector.append(torch.cat(pieces))
    vector += [params[name].view(-1) for name in TAIL]
    return torch.cat(vector), cut_paths


def released_style_angle(arch, model0: Supernet, model_t: Supernet, device=torch.device("cpu"),
                         cosine_dtype=torch.float32) -> float:
    """``get_arch_angle``: vectors built in float32 on the CPU; float64 cosines serve only the check."""
    nodes = [[OPS[arch[EDGES.index((i, j))]] for j in range(i)] for i in (1, 2, 3)]  # genotype.nodes
    with torch.no_grad():  # no autograd graph: the fairest (fastest) reading of the released code
        (v0, cut), (vt, _) = arch_vector(nodes, model0), arch_vector(nodes, model_t)
        if cut == len(PATHS):
            return 0.0
        cosine = torch.nn.CosineSimilarity(dim=0, eps=1e-8).to(device)  # a new module per call, as released
        return math.acos(cosine(v0.to(device, cosine_dtype), vt.to(device, cosine_dtype)).item())


def perturbed_copy(model: Supernet, seed: int) -> Supernet:
    """Wt: each tensor plus noise of a random share (0.1..1) of its RMS, so archs get different angles."""
    generator = torch.Generator().manual_seed(seed)
    trained = copy.deepcopy(model)
    with torch.no_grad():
        for param in trained.parameters():
            scale = float(torch.empty(()).uniform_(0.1, 1.0, generator=generator)) * param.pow(2).mean().sqrt()
            param.add_(torch.randn(param.shape, generator=generator) * scale)
    return trained


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--cells", type=int, default=5, help="search cells per stage (N)")
    parser.add_argument("--sample", type=int, default=300, help="architectures scored the released way")
    parser.add_argument("--repeats", type=int, default=5, help="engine runs; the fastest is reported")
    parser.add_argument("--device", default="cpu", help="where the engine's weights live and cosines run")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    device = torch.device(args.device)

    torch.manual_seed(args.seed)
    model0 = Supernet(SupernetConfig(channels=args.channels, cells_per_stage=args.cells), num_classes=10)
    model_t = perturbed_copy(model0, args.seed + 1)
    state0, state_t = ({k: v.to(device) for k, v in m.state_dict().items()} for m in (model0, model_t))
    atom_list, archs = atoms(Layout(args.channels, args.cells)), benchmark_archs()  # the table is cached

    # (a) the engine: statistics once, then one matrix product for every architecture.
    stats, stats_s = best_of(args.repeats, lambda: atom_statistics(atom_list, state0, state_t), device)
    multiplicities, counts_s = best_of(args.repeats, lambda: counts(archs), device)
    angles, matmul_s = best_of(args.repeats, lambda: angles_from_counts(multiplicities, stats), device)
    engine_s = stats_s + counts_s + matmul_s

    # (b) the released approach on a random sample, extrapolated to the whole space.
    sample = np.random.default_rng(args.seed).choice(NUM_ARCHS, size=args.sample, replace=False)
    released_style_angle(archs[sample[0]], model0, model_t, device)  # warm-up (allocator, CUDA context)
    released, sample_s = best_of(1, lambda: [released_style_angle(archs[i], model0, model_t, device) for i in sample],
                                 device)
    released_s = sample_s / args.sample * NUM_ARCHS

    # (c) agreement on the sample; float64 cosines of the same vectors separate rounding from semantics.
    released64 = [released_style_angle(archs[i], model0, model_t, device, torch.float64) for i in sample]
    diff32, diff64 = (float(np.abs(angles[sample] - np.array(values)).max()) for values in (released, released64))
    agree = diff32 <= TOL32 and diff64 <= TOL64

    params = sum(p.numel() for p in model0.parameters())
    print(f"NAS-Bench-201 angles, supernet C={args.channels} N={args.cells} ({params:,} parameters), "
          f"device {device}, {torch.get_num_threads()} CPU threads")
    timings = [("engine: counts(archs)", NUM_ARCHS, counts_s), ("engine: counts @ stats + acos", NUM_ARCHS, matmul_s),
               ("engine: total", NUM_ARCHS, engine_s), ("released style (float32 concat)", args.sample, released_s)]
    print_table(("method", "archs timed", "ms / arch", f"s for {NUM_ARCHS:,}"),
                [("engine: atom statistics (once)", "-", "-", f"{stats_s:.4f}")]
                + [(name, f"{n:,}", f"{1e3 * s / NUM_ARCHS:.6f}", f"{s:.4f}") for name, n, s in timings])
    print(f"max |engine - released style| on {args.sample} sampled archs: {diff32:.2e} rad with float32 cosines "
          f"(tolerance {TOL32:g}), {diff64:.2e} rad with float64 cosines (tolerance {TOL64:g})")
    print(f"summary: engine {engine_s:.3f} s vs released style {released_s:.0f} s (extrapolated) for the whole space: "
          f"{released_s / engine_s:,.0f}x faster; target engine < 0.5 s {'met' if engine_s < 0.5 else 'MISSED'}; "
          f"angles {'agree' if agree else 'DISAGREE'}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
