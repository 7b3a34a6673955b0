"""Native CPU kernels, compiled on first use with the machine's C++ compiler and cached.

Two are native, each in ``native/<name>.cpp``: ``batchnorm_nhwc`` (``common.bn``) and
``avgpool3x3_nhwc`` (``common.pooling``). Each is built with ``-O3 -march=native -fopenmp`` (and
``$CXXFLAGS``) into ``$RLNAS_CACHE/kernels`` (default ``~/.cache/rlnas``) under a name that hashes
the source, the compiler, the flags and this CPU, so a cache shared between machines never hands
one machine code built for another. Without a compiler, or with ``RLNAS_NATIVE=0``, callers get
``None`` and use their PyTorch operators instead (the same results, slower); a failed build says
why once. A library links ``libgomp.so.1``, which resolves to the OpenMP runtime PyTorch has
already loaded, so its threads are PyTorch's threads; if loading it brought a second OpenMP runtime
into the process (a PyTorch built with another one), it is not used: two thread pools would fight
over the cores.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
import warnings
from contextlib import nullcontext
from functools import lru_cache
from pathlib import Path

import torch  # before any library: its OpenMP runtime is the one a library binds to

SOURCE_DIR = Path(__file__).with_name("native")
FLAG_SETS = (["-O3", "-march=native", "-fopenmp"], ["-O3", "-fopenmp"])  # best first
ABI_VERSION = 1


def cache_dir() -> Path:
    configured = os.environ.get("RLNAS_CACHE")
    if configured:
        return Path(configured) / "kernels"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rlnas" / "kernels"


def _cpu_signature() -> str:
    """The CPU model and instruction-set flags (what ``-march=native`` compiles for)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    return "\n".join(sorted({line for line in lines if line.startswith(("model name", "flags"))}))


def _compiler() -> str | None:
    return shutil.which(os.environ.get("CXX") or "c++") or shutil.which("g++") or shutil.which("clang++")


def _build(source: Path, compiler: str) -> Path:
    """The cached library for ``source``, compiled now if absent; raises ``RuntimeError`` if no flag
    set compiles. The file appears whole or not at all (written beside, then renamed)."""
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=60).stdout
    key_parts = [source.read_text(), compiler, version, _cpu_signature()]
    extra = shlex.split(os.environ.get("CXXFLAGS", ""))  # e.g. -mno-avx512f: the AVX2 code
    candidates = []
    for flags in FLAG_SETS:
        flags = flags + extra
        key = hashlib.sha256("\0".join(key_parts + [" ".join(flags)]).encode()).hexdigest()[:16]
        candidates.append((flags, cache_dir() / f"{source.stem}-{key}.so"))
    for _, target in candidates:  # a cached build of any flag set: no compiler run (not even a failing one)
        if target.exists():
            return target
    errors = []
    for flags, target in candidates:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(fd)
        try:
            done = subprocess.run([compiler, *flags, "-std=c++17", "-shared", "-fPIC", str(source), "-o", partial],
                                  capture_output=True, text=True, timeout=300)
            if done.returncode == 0:
                os.replace(partial, target)
                return target
            lines = [line for line in done.stderr.splitlines() if "error" in line] or [f"exit status {done.returncode}"]
            errors.append(f"{' '.join(flags)}: {lines[0].strip()}")
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
    raise RuntimeError("; ".join(errors))


def openmp_runtimes(maps: str) -> set[str]:
    """The OpenMP runtime files mapped into a process, from its ``/proc/<pid>/maps`` text."""
    paths = {fields[-1] for fields in map(str.split, maps.splitlines()) if fields}
    return {path for path in paths if Path(path).name.startswith(("libgomp", "libiomp", "libomp"))}


def _loaded_openmp_runtimes() -> set[str]:
    try:
        return openmp_runtimes(Path("/proc/self/maps").read_text())
    except OSError:  # not Linux: nothing to check
        return set()


@lru_cache(maxsize=None)
def library(name: str) -> ctypes.CDLL | None:
    """The loaded kernel library ``native/<name>.cpp``, or ``None`` (disabled, no compiler, failed
    build: the caller falls back to PyTorch operators)."""
    if os.environ.get("RLNAS_NATIVE", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    compiler = _compiler()
    if compiler is None:
        return None
    try:
        lib = ctypes.CDLL(str(_build(SOURCE_DIR / f"{name}.cpp", compiler)))
        version = lib.rlnas_abi_version()
        if version != ABI_VERSION:
            raise RuntimeError(f"ABI version {version}, expected {ABI_VERSION}")
        runtimes = _loaded_openmp_runtimes()
        if len(runtimes) > 1:
            raise RuntimeError(f"it would run a second OpenMP runtime beside PyTorch's: {sorted(runtimes)}")
    except (OSError, AttributeError, RuntimeError, subprocess.SubprocessError) as error:
        warnings.warn(f"native kernel {name} unavailable, using PyTorch operators: {error}", RuntimeWarning)
        return None
    return lib


POINTER, INT64 = ctypes.c_void_p, ctypes.c_int64  # argument types of the kernels' tensors and sizes


def functions(name: str, signatures: dict[str, list]) -> dict[str, ctypes._CFuncPtr] | None:
    """``{function name: callable}`` of library ``name`` with the given argument types (results are
    void), or ``None`` where it cannot be had (see ``library``)."""
    lib = library(name)
    if lib is None:
        return None
    bound = {}
    for function, argtypes in signatures.items():
        bound[function] = getattr(lib, function)
        bound[function].argtypes, bound[function].restype = argtypes, None
    return bound


def strictly_nhwc(x: torch.Tensor) -> bool:
    """A 4-D tensor whose memory is NHWC and not also NCHW (as when C or H*W is 1): the kernels' layout."""
    return x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


def address(tensor: torch.Tensor | None) -> int | None:
    return None if tensor is None else tensor.data_ptr()


def profiled(name: str):
    """A profiler range around a native kernel (it is no ATen operator), only while profiling."""
    return torch.profiler.record_function(f"rlnas::{name}") if torch.autograd._profiler_enabled() else nullcontext()
