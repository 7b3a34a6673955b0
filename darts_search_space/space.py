"""The DARTS search space as the stages see it (``common.space``): ``SPACE``.

The codec and sampling live in ``encoding`` (re-exported here, so ``from darts_search_space.space
import from_str`` keeps working); networks in ``supernet``/``model``, the angle in ``angle``, FLOPs
in ``costs``, drawings in ``drawing``, genotype names and texts in ``genotypes``.
"""
from __future__ import annotations

from common.errors import UserError
from common.space import SearchSpace, register

from .angle import Layout, angle_atoms, naive_pieces, supernet_config_of
from .config import DartsConfig, RetrainExperiment
from .costs import NetworkShape, costs
from .drawing import draw
from .encoding import *  # noqa: F401,F403 - the codec's names are the space's public names
from .encoding import DartsCodec
from .genotypes import from_arch, resolve, to_text
from .model import build_model
from .supernet import build_supernet


def _angle_options(cfg) -> tuple[str, str]:
    """``(dil_conv_bn, classifier_bias)`` of the config's ``angle`` section (defaults without one)."""
    return (cfg.angle.dil_conv_bn, cfg.angle.classifier_bias) if cfg is not None else ("paper", "released")


class DartsSpace(DartsCodec, SearchSpace):
    title = "DARTS"
    config_schema = DartsConfig
    retrain_schema = RetrainExperiment
    arch_help = "a genotype name (RLNAS_CIFAR10, ...), a Genotype(...) text, an architecture string or search:RUN_DIR"
    cli_aliases = {"--genotype": "--arch"}
    retrain_options = {"--init-channels": ("model.channels", int, "C of the network (scales FLOPs)")}
    can_draw = True
    quickstart = ("configs/darts/quickstart.yaml", "configs/darts/retrain_quickstart.yaml")
    smoke_overrides = ("train.epochs=1", "train.max_steps_per_epoch=2", "model.channels=4", "model.layers=3",
                       "flops.channels=16", "data.synthetic.num_images=64", "data.synthetic.num_test_images=32")
    retrain_smoke_overrides = ("train.epochs=1", "train.max_steps_per_epoch=1", "model.channels=4", "model.layers=3",
                               "data.synthetic.num_images=64", "data.synthetic.num_test_images=32")

    def parse_arch(self, spec: str):
        return resolve(spec)

    def arch_record(self, arch) -> str:
        return to_text(from_arch(arch))  # the cells themselves, readable

    def build_supernet(self, cfg, num_classes: int):
        return build_supernet(cfg.model, num_classes)

    def build_model(self, arch, model_cfg, num_classes: int):
        m = model_cfg
        return build_model(arch, num_classes, m.stem, m.channels, m.layers, m.auxiliary)

    def angle_atoms(self, supernet: dict, cfg=None):
        return angle_atoms(supernet, *_angle_options(cfg))

    def angle_pieces(self, arch, state, supernet: dict, cfg=None):
        return naive_pieces(arch, state, Layout(supernet_config_of(supernet), *_angle_options(cfg)))

    def cost_model(self, cfg) -> NetworkShape:
        return cfg.flops.shape()

    def priced_network(self, arch, cfg):
        shape = cfg.flops.shape()
        return build_model(arch, shape.num_classes, shape.stem, shape.channels, shape.layers, True), shape.image_size

    def cost_options(self, parser) -> None:
        parser.add_argument("--dataset", default="imagenet", choices=["imagenet", "cifar10"],
                            help="the network priced: ImageNet (224x224, 1000 classes) or CIFAR-10 (32x32, 10)")
        parser.add_argument("--init-channels", type=int, default=None, help="C (default 48 ImageNet, 36 CIFAR-10)")
        parser.add_argument("--layers", type=int, default=None, help="cells (default 14 ImageNet, 20 CIFAR-10)")

    def cost_model_from_args(self, args) -> NetworkShape:
        if args.init_channels is not None and (args.init_channels < 2 or args.init_channels % 2):
            raise UserError("--init-channels must be an even number >= 2")
        if args.layers is not None and args.layers < 3:
            raise UserError("--layers must be at least 3")
        return NetworkShape.of(args.dataset, args.init_channels, args.layers)

    def draw(self, arch, path, title: str = "") -> None:
        draw(arch, path, title)

    def search_context(self, cfg, benchmark=None) -> dict:
        shape = cfg.flops.shape()
        return {"shape": shape, "document": {"flops_limit_M": cfg.flops.limit_m, "flops_network": vars(shape)}}

    def describe(self, arch, cfg, context: dict) -> dict:
        flops, params = costs([arch], context["shape"])
        return {"genotype": to_text(from_arch(arch)), "flops_M": round(float(flops[0]) / 1e6, 2),
                "params_M": round(float(params[0]) / 1e6, 3)}

    def describe_model(self, arch, cfg) -> str:
        m = cfg.model
        imagenet = m.stem == "imagenet"
        shape = NetworkShape(m.channels, m.layers, m.stem, 224 if imagenet else 32, 1000 if imagenet else 10)
        flops, params = costs([arch], shape)
        return (f"retrain {m.arch}\n  C={m.channels}, {m.layers} cells: {flops[0] / 1e6:.1f}M FLOPs, {params[0] / 1e6:.2f}M "
                f"params at {shape.image_size}x{shape.image_size} (paper convention, auxiliary head excluded)")


SPACE = register(DartsSpace())
