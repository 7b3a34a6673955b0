"""The search-space interface (``SearchSpace``) and the registry of spaces (``register``, ``get_space``).

What a space implements, what each part is for and how a space registers is described once, in
docs/adding_a_space.md; ``tests/test_space_contract.py`` checks every registered space against it.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable, Mapping, Optional, Protocol, Sequence

import numpy as np
import torch
from torch import nn

from .config import deprecated
from .errors import UserError

class CostModel(Protocol):
    """FLOPs and parameters of architectures (int64 arrays), without building networks."""

    def costs(self, archs: Sequence) -> tuple[np.ndarray, np.ndarray]: ...


class SearchSpace(ABC):
    """One weight-sharing search space (see the module docstring for what each part is for)."""

    name: str  # registry key, checkpoint and queue tag
    title: str  # for messages, e.g. "NAS-Bench-201"
    size: Optional[int] = None  # number of architectures, when known
    config_schema: type  # supernet training + search (an ``ExperimentConfig``)
    retrain_schema: Optional[type] = None  # retraining (a ``RetrainExperiment``)
    scores: tuple[str, ...] = ("angle",)
    strategies: tuple[str, ...] = ("evolution", "random")
    arch_help: str = "an architecture string"  # what ``--arch`` takes, for --help
    # Old command-line spellings: {old option: new option}; each use prints a deprecation line.
    cli_aliases: Mapping[str, str] = {}
    # Retraining shortcuts: {option: (config key, type, help)}, e.g. DARTS' --init-channels.
    retrain_options: Mapping[str, tuple[str, type, str]] = {}
    # The space's quick configs (supernet + search, retraining), relative to the repository root, and
    # the --set overrides that shrink them to a seconds-long smoke run (the contract test runs them).
    quickstart: tuple[str, str]
    smoke_overrides: tuple[str, ...] = ()
    retrain_smoke_overrides: tuple[str, ...] = ()

    # ------------------------------------------------------------------ codec and sampling

    @abstractmethod
    def to_str(self, arch) -> str:
        """The canonical string of ``arch`` (``from_str(to_str(a)) == a``)."""

    @abstractmethod
    def from_str(self, text: str):
        """Parse a canonical string; anything else raises a ``UserError`` naming the problem."""

    @abstractmethod
    def random(self, rng: np.random.Generator):
        """One architecture drawn from ``rng`` (legal, or ``is_legal`` rejects it)."""

    @abstractmethod
    def mutate(self, arch, prob: float, rng: np.random.Generator): ...

    @abstractmethod
    def crossover(self, a, b, rng: np.random.Generator): ...

    @abstractmethod
    def is_legal(self, arch) -> bool: ...

    def all_archs(self) -> list:
        """Every architecture (the ``exhaustive`` strategy); only small spaces can."""
        raise UserError(f"search.strategy: the {self.title} space is too large to rank exhaustively")

    def parse_arch(self, spec: str):
        """An architecture from what a user typed (``--arch``, ``model.arch``); spaces may accept
        more than the canonical string (names, indices)."""
        return self.from_str(spec)

    def canonical_argv(self, argv: Optional[Sequence[str]]) -> Optional[list[str]]:
        """``argv`` (default: the command line) with the old option spellings of ``cli_aliases``
        replaced, with a deprecation line each."""
        argv = list(sys.argv[1:] if argv is None else argv)
        result = []
        for token in argv:
            option, sep, value = token.partition("=")
            if option in self.cli_aliases:
                deprecated(option, self.cli_aliases[option])
                token = self.cli_aliases[option] + sep + value
            result.append(token)
        return result

    def arch_record(self, arch) -> str:
        """What a retraining run's config records as ``model.arch``."""
        return self.to_str(arch)

    # ------------------------------------------------------------------ configs

    def check_config(self, cfg) -> None:
        """Reject what this space cannot do, before any work (one line, exit code 2)."""
        search = getattr(cfg, "search", None)
        if search is None:
            return
        if search.score not in self.scores:
            raise UserError(f"search.score: '{search.score}' is not available in the {self.title} space "
                            f"(choose from {', '.join(self.scores)})")
        if search.strategy not in self.strategies:
            raise UserError(f"search.strategy: '{search.strategy}' is not available in the {self.title} space "
                            f"(choose from {', '.join(self.strategies)})")

    # ------------------------------------------------------------------ networks

    @abstractmethod
    def build_supernet(self, cfg, num_classes: int) -> nn.Module:
        """The supernet experiment ``cfg`` trains: ``sample_path(rng)`` and ``forward(x, path)``."""

    @abstractmethod
    def build_model(self, arch, model_cfg, num_classes: int) -> nn.Module:
        """The standalone network of ``arch`` (``model_cfg``: the retraining config's ``model``)."""

    def supernet_classes(self, state: Mapping[str, torch.Tensor]) -> int:
        """Classes of the supernet whose state dict is ``state``."""
        return int(state["classifier.weight"].shape[0])

    def sample_candidates(self, cfg, trained: Path) -> Optional[list]:
        """The candidates the supernet in checkpoint ``trained`` proposes itself (EPS' final proxy
        space, for ``search.strategy: eps``), or None."""
        return None

    def sampler(self, cfg) -> Optional[Callable[[np.random.Generator], object]]:
        """How a search under ``cfg`` draws random architectures (None: ``random``); a space may
        sample straight within its FLOPs limit (``flops.limit_m``) instead of rejecting afterwards."""
        return None

    # ------------------------------------------------------------------ angle

    @abstractmethod
    def angle_atoms(self, supernet: dict, cfg=None) -> tuple[list, Callable]:
        """``(atoms, counts)`` for ``common.angle``: the atoms of a supernet whose checkpoint config has
        the model section ``supernet``, and ``counts(archs)`` their multiplicities. ``cfg``: the
        experiment config of the search (angle options), or None for the defaults."""

    @abstractmethod
    def angle_pieces(self, arch, state: Mapping[str, torch.Tensor], supernet: dict, cfg=None) -> list[torch.Tensor]:
        """``V(arch, state)`` as a list of pieces, built literally (the reference for tests)."""

    # ------------------------------------------------------------------ costs, drawing, results

    def cost_model(self, cfg) -> Optional[CostModel]:
        """FLOPs/params of the retrained network as experiment ``cfg`` prices it, or None."""
        return None

    def priced_network(self, arch, cfg) -> tuple[nn.Module, int]:
        """The network ``cost_model(cfg)`` prices for ``arch``, and its input size (the contract test
        counts it directly); its ``auxiliary`` modules, if any, are left out of the parameters."""
        raise NotImplementedError

    def cost_options(self, parser) -> None:
        """Add the ``flops`` command's options that choose the priced network."""

    def cost_model_from_args(self, args) -> CostModel:
        """The cost model of the network the ``flops`` command's options (``cost_options``) name."""
        raise UserError(f"the {self.title} space has no FLOPs model")

    def write_cost_table(self, args) -> None:
        """Count and write the FLOPs lookup table (``flops --write-table PATH``), where the space has one."""
        raise UserError(f"the {self.title} space has no FLOPs table")

    can_draw = False

    def draw(self, arch, path: Path, title: str = "") -> None:
        raise UserError(f"the {self.title} space cannot draw architectures")

    def search_context(self, cfg, benchmark=None) -> dict:
        """What ``describe`` needs, loaded once per search; its ``document`` entry is added to result.json."""
        return {"document": {}}

    def describe(self, arch, cfg, context: dict) -> dict:
        """Extra fields of an architecture in ``search/result.json``."""
        return {}

    def describe_model(self, arch, cfg) -> str:
        """A log line about the network a retraining run trains."""
        return f"retrain {self.to_str(arch)}"


# ------------------------------------------------------------------------------ registry

_REGISTRY: dict[str, SearchSpace] = {}


def register(space: SearchSpace) -> SearchSpace:
    """Make ``space`` known by ``space.name``; returns it (``SPACE = register(MySpace())``)."""
    existing = _REGISTRY.get(space.name)
    if existing is not None and type(existing) is not type(space):
        raise ValueError(f"search space name {space.name!r} is taken by {type(existing).__name__}")
    _REGISTRY[space.name] = space
    return space


# The shipped spaces' packages, imported on first use by name.
PACKAGES = {"nas_bench_201": "nas_bench_201", "darts": "darts_search_space", "mobilenet": "mobilenet_search_space"}


def get_space(name: str) -> SearchSpace:
    """The space registered as ``name``, or registered by importing the package ``name`` (a shipped
    space's package, or a module path such as ``examples.chain_space``)."""
    if name not in _REGISTRY:
        module = PACKAGES.get(name, name)
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if found:
            space = getattr(importlib.import_module(f"{module}.space"), "SPACE", None)
            if isinstance(space, SearchSpace):
                return space
        raise UserError(f"unknown search space {name!r} (known: {', '.join(sorted(set(PACKAGES) | set(_REGISTRY)))}; "
                        "or the package that registers one, e.g. examples.chain_space)")
    return _REGISTRY[name]


def registered() -> list[str]:
    """Names of the spaces registered so far (those whose packages were imported)."""
    return sorted(_REGISTRY)
