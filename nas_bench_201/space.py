"""The NAS-Bench-201 search space as the stages see it (``common.space``): ``SPACE``.

The codec and sampling live in ``encoding`` (re-exported here, so ``from nas_bench_201.space import
from_str`` keeps working); networks in ``supernet``/``model``/``eps``, the angle in ``angle``.
"""
from __future__ import annotations

from common.checkpoint import load_checkpoint
from common.search import ALL_SCORES, ALL_STRATEGIES
from common.space import SearchSpace, register

from .angle import angle_atoms, layout_of, naive_pieces
from .benchmark import BenchmarkTable, find_table
from .config import NB201Config, NB201RetrainConfig
from .encoding import *  # noqa: F401,F403 - the codec's names are the space's public names
from .encoding import NAME, NB201Codec, arch_of, from_str, index_of
from .eps import build_training_supernet, final_population
from .model import build_model


def load_table(cfg: NB201Config) -> BenchmarkTable | None:
    """The benchmark table the config names or the environment provides, or None."""
    path = find_table(cfg.benchmark.table)
    return BenchmarkTable.load(path) if path is not None else None


class NASBench201Space(NB201Codec, SearchSpace):
    title = "NAS-Bench-201"
    config_schema = NB201Config
    retrain_schema = NB201RetrainConfig
    scores = ALL_SCORES
    strategies = ALL_STRATEGIES
    arch_help = "an architecture string |op~0|+|op~0|op~1|+|...|, a benchmark index, or search:RUN_DIR"
    quickstart = ("configs/nas_bench_201/quickstart.yaml", "configs/nas_bench_201/retrain_quickstart.yaml")
    smoke_overrides = ("train.epochs=1", "train.max_steps_per_epoch=2", "data.synthetic.num_images=64", "data.synthetic.num_test_images=32")
    retrain_smoke_overrides = ("train.epochs=1", "train.max_steps_per_epoch=1", "data.synthetic.num_images=64", "data.synthetic.num_test_images=32")

    def parse_arch(self, spec: str):
        return arch_of(int(spec)) if spec.strip().isdigit() else from_str(spec)

    def build_supernet(self, cfg, num_classes: int):
        return build_training_supernet(cfg, num_classes)

    def build_model(self, arch, model_cfg, num_classes: int):
        return build_model(arch, num_classes, model_cfg.channels, model_cfg.cells_per_stage)

    def sample_candidates(self, cfg, trained):
        if cfg.search.strategy != "eps":
            return None
        return final_population(load_checkpoint(trained, space=NAME)["model"])

    def angle_atoms(self, supernet: dict, cfg=None):
        return angle_atoms(supernet, cfg.angle.weights if cfg is not None else "all")

    def angle_pieces(self, arch, state, supernet: dict, cfg=None):
        return naive_pieces(arch, state, layout_of(supernet))

    def search_context(self, cfg, benchmark=None) -> dict:
        table = benchmark if benchmark is not None else load_table(cfg)
        return {"table": table, "document": {"benchmark_table": str(table.path) if table else None}}

    def describe(self, arch, cfg, context: dict) -> dict:
        extra = {"index": index_of(arch)}
        if context.get("table") is not None:
            extra["benchmark"] = context["table"].row(extra["index"])
        return extra

    def describe_model(self, arch, cfg) -> str:
        model = self.build_model(arch, cfg.model, 10)
        return (f"retrain {self.to_str(arch)} (benchmark index {index_of(arch)}), C={cfg.model.channels}, "
                f"N={cfg.model.cells_per_stage}: {sum(p.numel() for p in model.parameters()) / 1e6:.3f}M params with 10 classes")


SPACE = register(NASBench201Space())
