"""pytest-benchmark: one EulerNet training step (forward, L2, backward, Ranger step).

    pytest benchmarks/bench_train_step.py --benchmark-enable

Versions: fused ops, reference ops, and (only with --benchmark-enable, it compiles for
minutes on a 2-core CPU) ``torch.compile`` of the reference model. Plain ``pytest`` (the
benchmarks disabled) runs each step once at a small size to check that it works. The full
table with the non-convolution share is ``python benchmarks/train_step.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_step import make_step, with_ops  # noqa: E402

from fasfast._compat import import_timm  # noqa: E402
from fasfast.models import EulerNet, EulerNetConfig  # noqa: E402


def _step(version: str, enabled: bool):
    import_timm()
    from timm.optim import create_optimizer_v2

    torch.manual_seed(0)
    # the tiny preset at batch 4 when measuring; a smaller input when only checking
    over = {} if enabled else {"image_size": 32, "widths": (8, 12, 8)}
    cfg = EulerNetConfig.preset("tiny", **over)
    model = EulerNet(cfg).train()
    opt = create_optimizer_v2(model, opt="lookahead_radam", lr=1e-4)
    runner = torch.compile(model, fullgraph=True) if version == "compiled" else model
    batch = 4 if enabled else 1
    s, m = cfg.image_size, cfg.map_size
    x = torch.rand(batch, cfg.frames, 3, s, s)
    target = torch.rand(batch, cfg.frames, m, m)
    step = with_ops(make_step(runner, opt, x, target, None, None), reference=version != "fused")
    step()  # warm-up / compilation
    return step


@pytest.mark.parametrize("version", ["fused", "reference", "compiled"])
def test_train_step(benchmark, version):
    enabled = not benchmark.disabled
    if version == "compiled" and not enabled:
        pytest.skip("torch.compile of the model is only measured with --benchmark-enable")
    step = _step(version, enabled)
    benchmark.group = "eulernet-train-step-tiny-b4"
    loss = benchmark.pedantic(step, rounds=3 if enabled else 1, iterations=1, warmup_rounds=0)
    assert torch.isfinite(loss)
