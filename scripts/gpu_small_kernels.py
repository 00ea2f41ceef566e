"""Runs every CUDA kernel of fasfast once on small inputs, every dtype, forward and backward,
for compute-sanitizer (memcheck, racecheck, synccheck: benchmarks/run_gpu.sh). Odd sizes,
several blocks, T past two backward chunks, > 8 pool_concat inputs and a ratio of 17, so
every code path of the kernels is launched.

    compute-sanitizer --tool memcheck --error-exitcode 1 python scripts/gpu_small_kernels.py
"""

from __future__ import annotations

import sys

import torch

from fasfast import ops

DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


def main() -> int:
    if not ops.cuda_usable():
        print("gpu_small_kernels: no CUDA device or no CUDA kernels in fasfast._C")
        return 1
    dev = torch.device("cuda")
    g = torch.Generator().manual_seed(0)
    launched = 0
    for dtype in DTYPES:
        cdt = torch.float64 if dtype == torch.float64 else torch.float32
        b = torch.tensor([0.6, -0.2, 0.1], dtype=cdt, device=dev, requires_grad=True)
        a = torch.tensor([-0.5, 0.2], dtype=cdt, device=dev, requires_grad=True)
        for T in (1, 17):
            z = torch.randn(2, T, 17, 19, generator=g).to(dev, dtype).requires_grad_()
            x = torch.randn(2, T, 11, 17, 19, generator=g).to(dev, dtype).requires_grad_()
            (
                ops.diirf(z, b, a).float().square().sum() + ops.fcam_gate(x, z, b, a).float().sum()
            ).backward()
            launched += 6
        hi = torch.randn(2, 3, 14, 18, generator=g).to(dev, dtype).requires_grad_()
        lo = torch.randn(2, 3, 7, 9, generator=g).to(dev, dtype).requires_grad_()
        for mode in ("bilinear", "nearest"):
            ops.upsample_sub(hi, lo, mode).float().square().sum().backward()
            launched += 2
        ratios = (4, 2, 1, 3, 1, 2, 1, 1, 2, 17)
        xs = [
            torch.randn(1, 2, 3 * r, 5 * r, generator=g).to(dev, dtype).requires_grad_()
            for r in ratios
        ]
        for kind in ("max", "avg"):
            ops.pool_concat(xs, kind).float().square().sum().backward()
            launched += 4
    torch.cuda.synchronize()
    print(f"gpu_small_kernels: {launched} op calls on {torch.cuda.get_device_name(0)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
