"""Timing table of the fused fasfast ops vs the eager and torch.compile'd references.

    python benchmarks/ops_table.py                     # CPU, every case
    python benchmarks/ops_table.py --device cuda       # GPU: adds GB/s and % of copy bandwidth
    python benchmarks/ops_table.py --filter fcam --repeat 20 --out benchmarks/results/x.md

Cases come from every ``benchmarks/ops_cases_*.py`` module next to this file (each defines
``CASES``: a list of dicts with name, make_inputs(device, dtype), fused_fn, ref_fn,
bytes_fwd(inputs), bytes_bwd(inputs); see ``ops_cases_diirf.py``). To add an op family,
drop in another ``ops_cases_<family>.py``.

Every row times one pass ("fwd", or "fwd+bwd": forward then torch.autograd.grad w.r.t. all
floating inputs) of three versions: ``fused`` (fasfast.ops), ``eager`` (the pure-PyTorch
reference) and ``compile`` (torch.compile of the reference, dynamic=False). Times are the
minimum (``--stat median``: median) of --repeat runs after warm-up, in ms, of wall time
(``--clock cpu``: CPU time of the calling thread with one torch thread, which a busy shared
machine disturbs far less). On CPU, all three versions take tensors of 1 MiB and more from
one cache of freed blocks (``--alloc cache``, see ``_alloc.py``), so the references do not
page-fault their large tensors in on every run; ``--alloc default`` leaves them glibc's.
GB/s counts the minimum bytes the fused op must move (bytes_fwd, plus bytes_bwd for
fwd+bwd) over the fused time; "% copy" compares it with the measured bandwidth of a large
``Tensor.copy_`` (read + write).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import _alloc  # noqa: E402


def load_cases() -> list[dict]:
    """All cases of every ops_cases_*.py module beside this file (diirf first)."""
    names = sorted(p.stem for p in HERE.glob("ops_cases_*.py"))
    names.sort(key=lambda n: n != "ops_cases_diirf")
    cases: list[dict] = []
    for name in names:
        mod = importlib.import_module(name)
        cases.extend(getattr(mod, "CASES", []))
    return cases


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


CLOCK = time.perf_counter  # --clock cpu: time.thread_time (CPU time of this thread)


def time_ms(
    fn: Callable[[], object], device: str, repeat: int, warmup: int = 2, stat: str = "min"
) -> float:
    """Time of fn() in ms (device synchronised): the minimum or median of `repeat` runs."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeat):
        t0 = CLOCK()
        fn()
        _sync(device)
        times.append((CLOCK() - t0) * 1e3)
    return min(times) if stat == "min" else statistics.median(times)


def copy_bandwidth_gbs(device: str, repeat: int, mib: int, stat: str = "min") -> float:
    """Measured bandwidth (GB/s) of dst.copy_(src) for a large float32 tensor (read + write)."""
    n = mib * 2**20 // 4
    src = torch.randn(n, device=device)
    dst = torch.empty_like(src)
    ms = time_ms(lambda: dst.copy_(src), device, repeat, stat=stat)
    return 2 * n * 4 / (ms * 1e-3) / 1e9


def make_runner(fn, inputs, backward: bool):
    """A zero-argument callable running one forward (no grad) or forward + backward pass."""
    if not backward:

        def fwd():
            with torch.no_grad():
                return fn(*inputs)

        return fwd
    leaves = tuple(t.detach().requires_grad_(t.is_floating_point()) for t in inputs)
    diff = tuple(t for t in leaves if t.requires_grad)
    with torch.no_grad():
        grad_out = torch.randn_like(fn(*inputs))

    def fwd_bwd():
        out = fn(*leaves)
        return torch.autograd.grad(out, diff, grad_out)

    return fwd_bwd


def run_table(args) -> str:
    device, dtype = args.device, getattr(torch, args.dtype)
    cases = [c for c in load_cases() if args.filter in c["name"]]
    gbs_copy = copy_bandwidth_gbs(device, args.repeat, args.copy_mib, args.stat)
    header = (
        "| case | pass | fused ms | eager ms | compile ms | vs eager | vs compile | GB/s | % copy |"
    )
    lines = [header, "|" + "---|" * 9]
    for case in cases:
        inputs = case["make_inputs"](device, dtype)
        # Cases of one family share the reference's code objects: without a reset dynamo
        # reaches its recompile limit and silently runs later cases eagerly.
        torch._dynamo.reset()
        compiled = None if args.no_compile else torch.compile(case["ref_fn"], dynamic=False)
        for backward in (False, True):
            ms = {}
            for version, fn in (
                ("fused", case["fused_fn"]),
                ("eager", case["ref_fn"]),
                ("compile", compiled),
            ):
                if fn is None:
                    ms[version] = float("nan")
                    continue
                ms[version] = time_ms(
                    make_runner(fn, inputs, backward), device, args.repeat, stat=args.stat
                )
            nbytes = case["bytes_fwd"](inputs) + (case["bytes_bwd"](inputs) if backward else 0)
            gbs = nbytes / (ms["fused"] * 1e-3) / 1e9
            row = (
                f"| {case['name']} | {'fwd+bwd' if backward else 'fwd'} | {ms['fused']:.2f} | "
                f"{ms['eager']:.2f} | {ms['compile']:.2f} | {ms['eager'] / ms['fused']:.2f}x | "
                f"{ms['compile'] / ms['fused']:.2f}x | {gbs:.1f} | {100 * gbs / gbs_copy:.0f}% |"
            )
            lines.append(row)
            print(row, flush=True)
        del inputs
    if device == "cuda":
        name = torch.cuda.get_device_name()
    else:
        name = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    meta = (
        f"{datetime.date.today().isoformat()} | device: {name} | torch {torch.__version__} | "
        f"{args.dtype} | {args.stat} of {args.repeat} runs, {args.clock} clock | "
        f"{args.alloc_state} | copy bandwidth {gbs_copy:.1f} GB/s"
    )
    return meta + "\n\n" + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument(
        "--dtype", default="float32", choices=("float32", "float64", "float16", "bfloat16")
    )
    p.add_argument("--repeat", type=int, default=10, help="timed runs per entry")
    p.add_argument(
        "--stat",
        default="min",
        choices=("min", "median"),
        help="statistic of the timed runs (min is robust on a shared machine)",
    )
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave as is)")
    p.add_argument(
        "--clock",
        default="wall",
        choices=("wall", "cpu"),
        help="cpu: CPU time of the calling thread with 1 torch thread (robust on a "
        "busy shared machine; CPU device only)",
    )
    p.add_argument(
        "--alloc",
        default="cache",
        choices=_alloc.ALLOC_MODES,
        help="cache: every version takes large CPU tensors from one block cache, so none "
        "page-faults them in on every run (default); default: glibc for the references",
    )
    p.add_argument("--filter", default="", help="only cases whose name contains this")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile column")
    p.add_argument("--copy-mib", type=int, default=0, help="copy-bandwidth tensor size (MiB)")
    p.add_argument("--out", type=Path, help="also write the table (markdown) here")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA device visible")
    if args.clock == "cpu":
        if args.device != "cpu":
            p.error("--clock cpu needs --device cpu")
        global CLOCK
        CLOCK = time.thread_time
        args.threads = 1
    if args.threads:
        torch.set_num_threads(args.threads)
    args.alloc_state = _alloc.apply(args.alloc) if args.device == "cpu" else "device memory"
    if not args.copy_mib:
        args.copy_mib = 1024 if args.device == "cuda" else 256
    table = run_table(args)
    print()
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
