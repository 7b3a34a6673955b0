"""A tiny NAS-Bench-201 experiment config shared by the study tests."""
from pathlib import Path

from common.config import load_config
from nas_bench_201.config import NB201Config

ROOT = Path(__file__).resolve().parents[1]
TINY = """
_base_: {base}
device: cpu
data: {{dataset: synthetic, valid_fraction: 0.25, synthetic: {{num_images: 192, num_test_images: 32, num_classes: 10, image_size: 16}}}}
model: {{channels: 4, cells_per_stage: 1}}
train: {{epochs: 1, batch_size: 32, save_every: 1, log_every: 100}}
search:
  evolution: {{population: 6, iterations: 2, top_k: 2, mutations: 2, crossovers: 2}}
  val_acc: {{bn_batches: 1, batch_size: 16, valid_images: 24}}
  proxy_batch: 4
  random_samples: 5
  eps: {{population: 6, update_every: 2, parents: 2, replace: 2, valid_batch: 8}}
benchmark: {{dataset: cifar10}}
"""


def tiny_config(tmp_path, *overrides):
    """A seconds-scale NB201 experiment on synthetic images, written to ``tmp_path/tiny.yaml`` and loaded."""
    text = TINY.format(base=ROOT / "configs/nas_bench_201/base.yaml")
    path = tmp_path / "tiny.yaml"
    path.write_text(text)
    return load_config(path, NB201Config, list(overrides))
