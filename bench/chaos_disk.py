"""Disk full and damaged files.

* A build that runs out of space: on a size-limited tmpfs (needs root; skipped with the reason when
  it cannot be mounted), with the free space set at several levels so the failure lands on
  different files; and in-process, with ENOSPC injected at each file the build opens for writing in
  turn. Each must leave the live version byte-for-byte as it was, say "disk full" with the path,
  leave no temporary folder, and the next build (space freed) must succeed.
* A live version whose vector, chunk, BM25 or FAISS file is truncated or altered on disk while the
  service runs: the service keeps answering as before, /health reports the damage, `rag index
  --verify` names the file, and the next `rag index` rebuilds it.

    .venv/bin/python bench/chaos_disk.py [--model fake|real] [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chaos_common import Row, run_alone, start_service, stop_service  # noqa: E402
from bench.chaos_crash import corpus as _corpus  # noqa: E402
from bench.chaos_crash import run_index  # noqa: E402
from rag.store import current_folder  # noqa: E402

DAMAGED = ["embeddings.npy", "chunks.jsonl", "tokens.jsonl", "vectors.faiss", "sentences.npy",
           "bm25/data.csc.index.npy", "bm25/vocab.index.json"]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _mount(path: Path, size: int) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return r.returncode == 0


def _umount(path: Path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True)


def full_disk(root: Path, model: str, levels: int) -> Row:
    """`rag index` A -> B on a tmpfs with `levels` amounts of free space, each too little for B."""
    root.mkdir(parents=True, exist_ok=True)
    src_a, src_b = _corpus(root, False), _corpus(root, True)
    sizes = []
    for src in (src_a, src_b):  # how big versions A and B are on disk
        probe = root / f"probe-{src.name}"
        code, _, out = run_index(probe, src, model)
        if code != 0:
            raise RuntimeError(out[-2000:])
        sizes.append(sum(p.stat().st_size for p in current_folder(probe).rglob("*") if p.is_file()))
    size_a, size_b = sizes
    mount = root / "tmpfs"
    if not _mount(mount, 2 * (size_a + size_b) + (8 << 20)):
        return Row("disk", "build on a full disk (size-limited tmpfs)", 0, broke="skipped: cannot mount tmpfs "
                   "(not root?); the injected-ENOSPC row covers the same paths")
    broke, messages, runs = [], set(), 0
    try:
        for level in range(levels):
            index_dir = mount / "index"
            shutil.rmtree(index_dir, ignore_errors=True)
            code, _, out = run_index(index_dir, src_a, model)
            live = current_folder(index_dir)
            before = _files(live)
            filler = mount / "filler"
            free = shutil.disk_usage(mount).free
            # From almost nothing to almost all of B free: the failure moves through B's files.
            leave = int(size_b * level / levels) + 4096
            filler.write_bytes(b"\0" * max(0, free - leave))
            code, _, out = run_index(index_dir, src_b, model)
            runs += 1
            if code == 0:
                broke.append(f"level {level}: the build fitted in {leave} bytes")
            elif "disk full" not in out or str(mount) not in out:
                broke.append(f"level {level}: exit {code} without 'disk full' and the path: {out[-200:]}")
            else:
                where = out.strip().splitlines()[-1].split(" cannot write ")[-1].split(";")[0]
                messages.add(where.split("/.tmp-v-")[-1].partition("/")[2] or where.replace(str(index_dir), "index"))
            if current_folder(index_dir) != live or _files(live) != before:
                broke.append(f"level {level}: the live version changed")
            if list(index_dir.glob(".tmp-*")):
                broke.append(f"level {level}: a temporary folder was left")
            filler.unlink()
            code, _, out = run_index(index_dir, src_b, model)
            if code != 0 or current_folder(index_dir) == live:
                broke.append(f"level {level}: the build after freeing space failed: {out[-200:]}")
    finally:
        _umount(mount)
    return Row("disk", "`rag index` on a full disk (tmpfs, free space at several levels)", runs,
               broke="; ".join(broke), lost=bool(broke),
               figures=f"failed at: {', '.join(sorted(messages)) or '-'}")


def injected_enospc(root: Path) -> Row:
    """ENOSPC injected in-process at the k-th file a build opens for writing, for every k."""
    import builtins
    import errno

    from rag.build import build_index
    from rag.embed import FakeEmbedder
    from rag.errors import DiskFullError
    from rag.store import load_index

    src_a, src_b = root / "src-a", root / "src-b"
    index_dir = root / "enospc"
    build_index([src_a], index_dir, FakeEmbedder())
    live = current_folder(index_dir)
    before = _files(live)
    real_open = builtins.open
    broke, k = [], 0
    while True:
        k += 1
        seen: list[str] = []

        def open_(file, mode="r", *a, **kw):
            if isinstance(mode, str) and any(m in mode for m in "wax+") and str(index_dir) in str(file):
                seen.append(str(file))
                if len(seen) == k:
                    raise OSError(errno.ENOSPC, "No space left on device", str(file))
            return real_open(file, mode, *a, **kw)

        builtins.open = open_
        try:
            build_index([src_b], index_dir, FakeEmbedder())
            done = True
        except DiskFullError as e:
            done = False
            if seen[-1] not in str(e) or "disk full" not in str(e):
                broke.append(f"write {k}: message does not name {seen[-1]}: {e}")
        finally:
            builtins.open = real_open
        if done:
            break
        if current_folder(index_dir) != live or _files(live) != before or list(index_dir.glob(".tmp-*")):
            broke.append(f"write {k}: the live version changed or a temporary folder was left")
    if current_folder(index_dir) == live or not load_index(index_dir, verify=True):
        broke.append("the build with space never wrote B")
    return Row("disk", "ENOSPC injected at each file a build writes, in turn", k - 1, broke="; ".join(broke),
               lost=bool(broke), figures=f"{k - 1} distinct write points failed, then the build succeeded")


def damaged_files(root: Path, model: str, quick: bool) -> Row:
    """Truncate or alter each live file under a running service; see the module's docstring."""
    (root / "damage").mkdir()
    src = _corpus(root / "damage", False)
    index_dir = root / "damage" / "index"
    code, _, out = run_index(index_dir, src, model)
    if code != 0:
        raise RuntimeError(out[-2000:])
    service, base = start_service(index_dir, [src], root / "damage" / "serve.log", model)
    questions = ["What was revenue in the quarter?", "收入是多少？", "What did management say about margins?"]
    broke, runs, detect = [], 0, []
    cases = [(n, how) for n in DAMAGED for how in ("truncated", "altered")]
    if quick:
        cases = cases[:3]
    try:
        with httpx.Client(base_url=base, timeout=60, trust_env=False) as c:
            def answers() -> list:
                out = []
                for q in questions:
                    r = c.post("/chat", json={"message": q})
                    out.append((r.status_code, r.json().get("answer"),
                                [x["chunk_id"] for x in r.json().get("citations", [])]))
                return out

            for name, how in cases:
                runs += 1
                live = current_folder(index_dir)
                expected = answers()
                path = live / name
                data = bytearray(path.read_bytes())
                t0 = time.monotonic()
                if how == "truncated":
                    with open(path, "r+b") as f:
                        f.truncate(len(data) // 2)
                else:  # the same size, bytes changed in place (the modification time moves with them)
                    mid = len(data) // 2
                    data[mid:mid + 16] = bytes(b ^ 0x5A for b in data[mid:mid + 16])
                    with open(path, "r+b") as f:
                        f.write(bytes(data))
                while time.monotonic() - t0 < 30 and not c.get("/health").json()["index"]["damage"]:
                    time.sleep(0.05)
                health = c.get("/health").json()
                detect.append(time.monotonic() - t0)
                if not any(name in d for d in health["index"]["damage"]) or health["status"] != "degraded":
                    broke.append(f"{name} {how}: /health did not report it ({health['status']})")
                if answers() != expected:
                    broke.append(f"{name} {how}: answers changed while damaged")
                v = subprocess.run([sys.executable, "-m", "rag.cli", "index", "--verify", "--index-dir",
                                    str(index_dir)], capture_output=True, text=True)
                if v.returncode != 1 or name not in v.stderr:
                    broke.append(f"{name} {how}: --verify exit {v.returncode}: {v.stderr[-200:]}")
                code, _, out = run_index(index_dir, src, model)
                if code != 0 or current_folder(index_dir) == live or "damaged" not in out:
                    broke.append(f"{name} {how}: the next `rag index` did not rebuild it: {out[-200:]}")
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and c.get("/health").json()["index"]["version"] != \
                        current_folder(index_dir).name:
                    time.sleep(0.1)
                if c.get("/health").json()["status"] != "ok" or answers() != expected:
                    broke.append(f"{name} {how}: after the rebuild the service is not ok or answers differ")
    finally:
        stop_service(service)
    return Row("disk", "live file truncated or altered under a running service, then verify, rebuild", runs,
               broke="; ".join(broke), lost=bool(broke),
               figures=f"files: {', '.join(n for n in DAMAGED)}; damage in /health within "
                       f"{max(detect):.2f} s (max); answers unchanged while damaged")


def run(opts: argparse.Namespace | None = None, quick: bool = False) -> list[Row]:
    model = getattr(opts, "model", None) or "fake"
    with tempfile.TemporaryDirectory(prefix="chaos-disk-") as tmp:
        root = Path(tmp)
        rows = [full_disk(root / "full", model, 3 if quick else 8)]
        # full_disk made src-a / src-b under root / "full"; the injected run reads the same corpus.
        for name in ("src-a", "src-b"):
            shutil.copytree(root / "full" / name, root / name)
        rows.append(injected_enospc(root))
        rows.append(damaged_files(root, model, quick))
    return rows


def main() -> int:
    return run_alone(run, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
