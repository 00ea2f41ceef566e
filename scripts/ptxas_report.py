"""The resource gate of the CUDA kernels: reads nvcc logs made with ``-Xptxas -v`` and prints,
for every kernel instance and architecture, its registers, spills, stack frame, static shared
memory and the blocks per SM they allow at the kernel's launch size; exits 1 if a kernel
spills, needs a stack frame, or does not fit an SM of its architecture.

    python scripts/ptxas_report.py [--markdown FILE] LOG [LOG ...]

Limits per SM (CUDA C++ Programming Guide, "Compute Capabilities", table of technical
specifications): 65536 32-bit registers, at most 255 per thread, allocated per warp in units
of 256; 2048 threads and 32 blocks; 48 KiB of static shared memory per block; 164 KiB
(sm_80) / 228 KiB (sm_90) of shared memory per SM, 1 KiB of it reserved per block.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass

# Threads per block each kernel is launched with (the most it is launched with).
LAUNCH_THREADS = {
    "diirf_forward_kernel": 256,
    "diirf_backward_kernel": 256,
    "fcam_forward_kernel": 256,
    "fcam_backward_kernel": 256,
    "reduce_partials_kernel": 256,
    "upsample_sub_kernel": 256,
    "upsample_sub_backward_kernel": 256,
    "pool_concat_kernel": 256,
    "pool_concat_backward_kernel": 256,
}
SMEM_PER_SM = {"sm_80": 164 * 1024, "sm_90": 228 * 1024}
REGS_PER_SM = 65536
MAX_REGS = 255
MAX_THREADS_PER_SM = 2048
MAX_BLOCKS_PER_SM = 32
MAX_STATIC_SMEM = 48 * 1024
RESERVED_SMEM_PER_BLOCK = 1024

_ENTRY = re.compile(r"Compiling entry function '(\S+)' for '(sm_\d+)'")
_FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_USED = re.compile(r"Used (\d+) registers")
_SMEM = re.compile(r"(\d+) bytes smem")


@dataclass
class Kernel:
    mangled: str
    arch: str
    name: str = ""
    args: str = ""
    regs: int = 0
    stack: int = 0
    spill_st: int = 0
    spill_ld: int = 0
    smem: int = 0
    threads: int = 0

    def blocks_per_sm(self) -> int:
        warps = (self.threads + 31) // 32
        regs_per_warp = -(-self.regs * 32 // 256) * 256
        by_regs = (REGS_PER_SM // max(regs_per_warp, 1)) // warps
        by_threads = MAX_THREADS_PER_SM // self.threads
        by_smem = SMEM_PER_SM[self.arch] // (self.smem + RESERVED_SMEM_PER_BLOCK)
        return min(by_regs, by_threads, by_smem, MAX_BLOCKS_PER_SM)

    def occupancy(self) -> float:
        return self.blocks_per_sm() * ((self.threads + 31) // 32) / (MAX_THREADS_PER_SM // 32)

    def problems(self) -> list[str]:
        out = []
        if self.spill_st or self.spill_ld:
            out.append(f"spills {self.spill_st} B stores / {self.spill_ld} B loads")
        if self.stack:
            out.append(f"{self.stack} B stack frame")
        if self.regs > MAX_REGS:
            out.append(f"{self.regs} registers > {MAX_REGS}")
        if self.smem > MAX_STATIC_SMEM:
            out.append(f"{self.smem} B static shared memory > {MAX_STATIC_SMEM}")
        if self.blocks_per_sm() < 1:
            out.append(f"a block of {self.threads} threads does not fit one SM")
        return out


def parse(text: str) -> list[Kernel]:
    kernels: list[Kernel] = []
    for line in text.splitlines():
        if m := _ENTRY.search(line):
            kernels.append(Kernel(m.group(1), m.group(2)))
        elif kernels and (m := _FRAME.search(line)):
            k = kernels[-1]
            k.stack, k.spill_st, k.spill_ld = map(int, m.groups())
        elif kernels and (m := _USED.search(line)):
            k = kernels[-1]
            k.regs = int(m.group(1))
            smem = _SMEM.search(line)
            k.smem = int(smem.group(1)) if smem else 0
    return kernels


def demangle(names: list[str]) -> list[str]:
    try:
        res = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True)
        out = res.stdout.splitlines()
        if res.returncode == 0 and len(out) == len(names):
            return out
    except OSError:
        pass
    return names


def _short(args: str) -> str:
    args = args.replace("c10::", "").replace("unsigned char", "uint8").replace("(long)", "")
    args = args.replace("fasfast::emu::", "")
    return re.sub(r"\s+", " ", args)


def name_kernels(kernels: list[Kernel]) -> None:
    for k, full in zip(kernels, demangle([k.mangled for k in kernels])):
        m = re.search(r"(\w+)<([^()]*)>\(", full)
        k.name, k.args = (m.group(1), _short(m.group(2))) if m else (full, "")
        k.threads = LAUNCH_THREADS.get(k.name, 0)


def table(kernels: list[Kernel]) -> str:
    head = (
        "| kernel | template args | arch | regs | spill st/ld B | stack B | smem B "
        "| threads | blocks/SM | occupancy |"
    )
    rows = [head, "|" + "---|" * 10]
    for k in sorted(kernels, key=lambda k: (k.name, k.args, k.arch)):
        rows.append(
            f"| {k.name} | {k.args} | {k.arch} | {k.regs} | {k.spill_st}/{k.spill_ld} | "
            f"{k.stack} | {k.smem} | {k.threads} | {k.blocks_per_sm()} | {k.occupancy():.0%} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--markdown", help="also write the table to this file")
    args = ap.parse_args(argv)
    kernels = []
    for path in args.logs:
        with open(path) as f:
            kernels += parse(f.read())
    if not kernels:
        print("ptxas_report: no 'ptxas info' lines found (was nvcc run with -Xptxas -v?)")
        return 1
    name_kernels(kernels)
    unknown = sorted({k.name for k in kernels if k.threads == 0})
    if unknown:
        print(f"ptxas_report: add the launch size of {', '.join(unknown)} to LAUNCH_THREADS")
        return 1
    text = table(kernels)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    bad = [(k, p) for k in kernels for p in k.problems()]
    for k, p in bad:
        print(f"ptxas_report: FAIL {k.name}<{k.args}> {k.arch}: {p}")
    print(f"ptxas_report: {len(kernels)} kernel instances, {len(bad)} problem(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
