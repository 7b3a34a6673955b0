"""The MobileNet search space as the stages see it (``common.space``): ``SPACE``.

The codec and sampling live in ``encoding`` (re-exported here, so ``from mobilenet_search_space.space
import from_str`` keeps working); networks in ``supernet``/``model``/``blocks``, the angle in
``angle``, the FLOPs lookup table in ``flops_table``, drawings in ``drawing``.
"""
from __future__ import annotations

from common.cli import positive_int
from common.space import SearchSpace, register

from .angle import angle_atoms, naive_pieces, width_of
from .config import MobileNetConfig, RetrainExperiment
from .drawing import draw_architecture
from .encoding import *  # noqa: F401,F403 - the codec's names are the space's public names
from .encoding import MobileNetCodec, describe
from .flops_table import FlopsTable, build_table, table_for
from .model import build_model
from .supernet import build_supernet


class MobileNetSpace(MobileNetCodec, SearchSpace):
    title = "MobileNet"
    config_schema = MobileNetConfig
    retrain_schema = RetrainExperiment
    arch_help = '21 codes such as "2 0 -1 ..." (-1 = identity), or search:RUN_DIR'
    can_draw = True
    quickstart = ("configs/mobilenet/quickstart.yaml", "configs/mobilenet/retrain_quickstart.yaml")
    smoke_overrides = ("train.epochs=1", "train.max_steps_per_epoch=2", "model.width_mult=0.1", "data.synthetic.num_images=64", "data.synthetic.num_test_images=32")
    retrain_smoke_overrides = ("train.epochs=1", "train.max_steps_per_epoch=1", "model.width_mult=0.1", "data.synthetic.num_images=64", "data.synthetic.num_test_images=32")

    def build_supernet(self, cfg, num_classes: int):
        return build_supernet(cfg.model, num_classes)

    def build_model(self, arch, model_cfg, num_classes: int):
        return build_model(arch, num_classes, model_cfg.width_mult, model_cfg.dropout)

    def supernet_classes(self, state) -> int:
        return int(state["classifier.0.weight"].shape[0])

    def angle_atoms(self, supernet: dict, cfg=None):
        return angle_atoms(supernet)

    def angle_pieces(self, arch, state, supernet: dict, cfg=None):
        return naive_pieces(arch, state, width_of(supernet))

    def cost_model(self, cfg) -> FlopsTable:
        f = cfg.flops
        return table_for(f.input_size, f.num_classes, f.width_mult, f.table)

    def priced_network(self, arch, cfg):
        f = cfg.flops
        return build_model(arch, f.num_classes, f.width_mult), f.input_size

    def sampler(self, cfg):
        # As released: uniform among the architectures within the limit, drawn in vectorised batches.
        if cfg.flops.limit_m is None:
            return None
        return MobileNetCodec(self.cost_model(cfg), cfg.flops.limit_m).random

    def cost_options(self, parser) -> None:
        parser.add_argument("--write-table", metavar="PATH", help="count every block and write the table to PATH")
        parser.add_argument("--input-size", type=positive_int, default=224, help="image side in pixels (default 224)")
        parser.add_argument("--num-classes", type=positive_int, default=1000, help="classifier outputs (default 1000)")
        parser.add_argument("--width-mult", type=float, default=1.0, help="channel width multiplier (default 1.0)")
        parser.add_argument("--table", default=None, help="lookup table to read (default: shipped or counted now)")

    def cost_model_from_args(self, args) -> FlopsTable:
        return table_for(args.input_size, args.num_classes, args.width_mult, args.table)

    def write_cost_table(self, args) -> None:
        build_table(args.input_size, args.num_classes, args.width_mult).save(args.write_table)

    def draw(self, arch, path, title: str = "") -> None:
        draw_architecture(arch, path, title or None)

    def search_context(self, cfg, benchmark=None) -> dict:
        table = self.cost_model(cfg)
        return {"table": table, "document": {
            "flops_limit_M": cfg.flops.limit_m,
            "flops_setting": {"input_size": table.input_size, "num_classes": table.num_classes,
                              "width_mult": table.width_mult}}}

    def describe(self, arch, cfg, context: dict) -> dict:
        table = context["table"]
        return {"arch": list(arch), "flops_M": float(table.flops_m([arch])[0]),
                "params_M": float(table.params_m([arch])[0]), "blocks": describe(arch)}

    def describe_model(self, arch, cfg) -> str:
        table = table_for(224, 1000, cfg.model.width_mult)
        return (f'retrain "{cfg.model.arch}": {table.flops_m([arch])[0]:.1f}M FLOPs, {table.params_m([arch])[0]:.2f}M params '
                "at 224x224 with 1000 classes (paper convention)")


SPACE = register(MobileNetSpace())
