"""EulerNet training-step benchmark: fused ops vs reference ops vs torch.compile(reference).

One step = forward, L2 loss to a random map, backward, Ranger step (timm ``lookahead_radam``).
Prints a Markdown report (samples/s, speed-ups, and the time of the non-convolution parts).

    python benchmarks/train_step.py                                  # tiny, batch 4, CPU
    python benchmarks/train_step.py --device cuda --preset baseline --batch 16 --amp

Non-convolution parts (FCAM gates = DIIRF + sigmoid + multiply, residual-pyramid
up-sample-subtract and pool-concatenate) are timed in isolation: one forward of the model
records every ``fcam_gate`` / ``upsample_sub`` / ``pool_concat`` call (shapes, dtypes,
arguments); each call is then replayed forward + backward at those shapes with each
version's implementation (``fasfast.ops``, ``fasfast.ops.reference``,
``torch.compile(reference)``) and the per-step sum is compared with the whole step.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

import fasfast.ops as ops
from fasfast._compat import import_timm
from fasfast.models import EulerNet, EulerNetConfig

OP_NAMES = ("fcam_gate", "upsample_sub", "pool_concat")
VARIANTS = ("fused", "reference", "compiled", "compiled_fused")  # last: opt-in


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ops_state() -> dict[str, str]:
    """Whether each op has a compiled CPU/CUDA kernel and whether ``fasfast.ops`` uses it."""
    out = {}
    for name in ("diirf", *OP_NAMES):
        key = f"fasfast::{name}"
        kernels = []
        for dk in ("CPU", "CUDA"):
            try:
                if torch._C._dispatch_has_kernel_for_dispatch_key(key, dk):
                    kernels.append(dk)
            except RuntimeError:
                pass
        placeholder = getattr(ops, name) is getattr(ops.reference, name)
        out[name] = f"kernels: {'+'.join(kernels) or 'none'}; fasfast.ops.{name} " + (
            "= reference (placeholder)" if placeholder else "= compiled wrapper"
        )
    return out


def with_ops(step, reference: bool):
    """``step`` run with the compiled ops (``reference=False``) or the reference ops."""

    def run():
        with ops.use_reference(reference):
            return step()

    return run


# ----------------------------------------------------------------------------- recording
@dataclass
class OpCall:
    name: str
    shapes: list  # fcam_gate: [x, z, b, a]; upsample_sub: [hi, lo]; pool_concat: [[...]]
    dtypes: list
    kwargs: dict = field(default_factory=dict)


@contextlib.contextmanager
def record_op_calls(calls: list[OpCall]):
    """Wrap fasfast.ops.reference.<op> to log every call (under ``ops.use_reference()``)."""
    saved = []
    for mod in (ops.reference,):
        for name in OP_NAMES:
            fn = getattr(mod, name)

            def wrapper(*args, _fn=fn, _name=name, **kw):
                if _name == "pool_concat":
                    ts = list(args[0])
                    shapes = [[tuple(t.shape) for t in ts]]
                    dtypes = [[t.dtype for t in ts]]
                    kwargs = {"kind": args[1] if len(args) > 1 else kw.get("kind", "max")}
                else:
                    ts = [a for a in args if isinstance(a, torch.Tensor)]
                    shapes, dtypes = [tuple(t.shape) for t in ts], [t.dtype for t in ts]
                    kwargs = {}
                    if _name == "upsample_sub":
                        kwargs["mode"] = args[2] if len(args) > 2 else kw.get("mode", "bilinear")
                calls.append(OpCall(_name, shapes, dtypes, kwargs))
                return _fn(*args, **kw)

            saved.append((mod, name, fn))
            setattr(mod, name, wrapper)
    try:
        yield calls
    finally:
        for mod, name, fn in saved:
            setattr(mod, name, fn)


def _make_inputs(call: OpCall, device, gen):
    def rnd(shape, dtype, grad=True):
        t = torch.randn(shape, generator=gen, dtype=torch.float32).to(device=device, dtype=dtype)
        return t.requires_grad_(grad)

    if call.name == "fcam_gate":
        xs, zs = call.shapes[:2]
        xd, zd, bd, ad = call.dtypes
        b = torch.tensor([1.0, -1.0, 0.0], dtype=bd, device=device).requires_grad_()
        a = torch.tensor([-0.5, 0.0], dtype=ad, device=device).requires_grad_()
        return (rnd(xs, xd), rnd(zs, zd), b, a), {}
    if call.name == "upsample_sub":
        return (rnd(call.shapes[0], call.dtypes[0]), rnd(call.shapes[1], call.dtypes[1])), {
            "mode": call.kwargs["mode"]
        }
    tensors = [rnd(s, d) for s, d in zip(call.shapes[0], call.dtypes[0])]
    return (tensors,), {"kind": call.kwargs["kind"]}


def _leaves(args):
    out = []
    for a in args:
        if isinstance(a, torch.Tensor):
            out.append(a)
        elif isinstance(a, list):
            out.extend(a)
    return out


def time_op_calls(calls, impls, device, repeats: int, warmup: int = 2) -> dict[str, float]:
    """Seconds per step spent in the recorded calls (forward + backward), per version.

    Keys: the version labels (all calls) and ``"<version>/<op>"`` (that op's calls only).
    """
    result = _time_calls(calls, impls, device, repeats, warmup)
    for name in OP_NAMES:
        sub = [c for c in calls if c.name == name]
        if sub:
            for label, sec in _time_calls(sub, impls, device, repeats, warmup).items():
                result[f"{label}/{name}"] = sec
    return result


def _time_calls(calls, impls, device, repeats: int, warmup: int) -> dict[str, float]:
    gen = torch.Generator().manual_seed(0)
    prepared = [_make_inputs(c, device, gen) for c in calls]
    grads = []
    for c, (args, kw) in zip(calls, prepared):
        with torch.no_grad():
            out = getattr(ops.reference, c.name)(*args, **kw)
        grads.append(torch.randn_like(out))
    result = {}
    for label, impl in impls.items():

        def one_pass(impl=impl):
            for c, (args, kw), g in zip(calls, prepared, grads):
                out = impl[c.name](*args, **kw)
                leaves = _leaves(args)
                torch.autograd.grad(out, leaves, g)

        for _ in range(warmup):
            one_pass()
        times = []
        for _ in range(repeats):
            sync(device)
            t0 = time.perf_counter()
            one_pass()
            sync(device)
            times.append(time.perf_counter() - t0)
        result[label] = statistics.median(times)
    return result


# ----------------------------------------------------------------------------- the step
_ELEMENTWISE = (
    "mul",
    "add",
    "sub",
    "sigmoid",
    "cat",
    "copy",
    "fill",
    "upsample",
    "stack",
    "div",
    "neg",
    "sum",
    "zero",
    "clone",
)


def profile_step(step, device) -> dict[str, float]:
    """Self time (s) of one step by op category: conv, batch_norm, fasfast, elementwise, other."""
    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=acts) as prof:
        step()
        sync(device)
    cats = dict.fromkeys(("total", "conv", "batch_norm", "fasfast", "elementwise", "other"), 0.0)
    for evt in prof.key_averages():
        if device.type == "cuda":
            sec = getattr(evt, "self_device_time_total", 0.0) / 1e6
        else:
            sec = evt.self_cpu_time_total / 1e6
        name = evt.key.lower()
        if "fasfast" in name:
            cat = "fasfast"
        elif "conv" in name:
            cat = "conv"
        elif "batch_norm" in name:
            cat = "batch_norm"
        elif name.startswith("aten::") and any(k in name[6:] for k in _ELEMENTWISE):
            cat = "elementwise"
        else:
            cat = "other"
        cats[cat] += sec
        cats["total"] += sec
    return cats


def make_step(model, optimizer, x, target, amp_dtype, scaler):
    device_type = x.device.type

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type, dtype=amp_dtype, enabled=amp_dtype is not None):
            out = model(x)
            loss = F.mse_loss(out.float(), target)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        return loss

    return step


def run(args) -> str:
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    import_timm()
    from timm.optim import create_optimizer_v2

    overrides = {}
    if args.image_size:
        overrides["image_size"] = args.image_size
    if args.widths:
        overrides["widths"] = tuple(int(w) for w in args.widths.split(","))
    cfg = EulerNetConfig.preset(args.preset, **overrides)
    amp_dtype = None
    if args.amp:
        amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[args.amp_dtype]
    s, t, m = cfg.image_size, cfg.frames, cfg.map_size
    x = torch.rand(args.batch, t, 3, s, s, device=device)
    target = torch.rand(args.batch, t, m, m, device=device)

    base = EulerNet(cfg).to(device)
    init_state = {k: v.clone() for k, v in base.state_dict().items()}
    variants = [v for v in args.variants.split(",") if v]
    for v in variants:
        if v not in VARIANTS:
            raise SystemExit(f"unknown variant {v!r}; choose from {VARIANTS}")

    # record the non-conv op calls of one step (reference model; same calls as fused)
    calls: list[OpCall] = []
    rec_model = EulerNet(cfg).to(device)
    rec_model.load_state_dict(init_state)
    with ops.use_reference(), record_op_calls(calls), torch.no_grad():
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            rec_model(x)
    del rec_model

    steps, compile_s = {}, {}
    for v in variants:
        model = EulerNet(cfg).to(device).train()
        model.load_state_dict(init_state)
        opt = create_optimizer_v2(model, opt="lookahead_radam", lr=1e-4)
        runner = model
        if v in ("compiled", "compiled_fused"):
            runner = torch.compile(model, fullgraph=True)
        scaler = None
        if amp_dtype == torch.float16:
            scaler = torch.amp.GradScaler(device.type)
        # the reference variants run (and compile) under the process-wide reference switch
        steps[v] = with_ops(
            make_step(runner, opt, x, target, amp_dtype, scaler),
            reference=v in ("reference", "compiled"),
        )
        sync(device)
        t0 = time.perf_counter()
        steps[v]()  # first step: warm-up (and compilation for "compiled")
        sync(device)
        compile_s[v] = time.perf_counter() - t0
        for _ in range(args.warmup):
            steps[v]()
    # interleaved rounds so that load from other jobs hits every version alike
    per_step = {v: [] for v in variants}
    for _ in range(args.rounds):
        for v in variants:
            sync(device)
            t0 = time.perf_counter()
            for _ in range(args.steps):
                steps[v]()
            sync(device)
            per_step[v].append((time.perf_counter() - t0) / args.steps)
    step_s = {v: statistics.median(per_step[v]) for v in variants}

    profiles = {}
    if args.profile:
        for v in variants:
            profiles[v] = profile_step(steps[v], device)

    impls = {}
    if "fused" in variants:
        impls["fused"] = {n: getattr(ops, n) for n in OP_NAMES}
    if "reference" in variants:
        impls["reference"] = {n: getattr(ops.reference, n) for n in OP_NAMES}
    if "compiled" in variants:
        impls["compiled"] = {n: torch.compile(getattr(ops.reference, n)) for n in OP_NAMES}
    if "compiled_fused" in variants:
        impls["compiled_fused"] = {n: torch.compile(getattr(ops, n)) for n in OP_NAMES}
    part_s = time_op_calls(calls, impls, device, repeats=args.op_repeats)

    # ------------------------------------------------------------------------- report
    lines = []
    dev_name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    lines.append(f"## EulerNet training step ({datetime.date.today().isoformat()})")
    lines.append("")
    lines.append(
        f"- device: {device.type} ({dev_name or platform.machine()}), torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}"
        + (
            " (CPU: 2-core dev machine, shared with other jobs while measured)"
            if device.type == "cpu"
            else ""
        )
    )
    lines.append(
        f"- preset `{args.preset}` (image {s}, widths {cfg.widths}, T={t}, map {m}x{m}), batch "
        f"{args.batch}, AMP {args.amp_dtype if amp_dtype else 'off'}; Ranger (timm "
        "`lookahead_radam`, lr 1e-4); L2 loss"
    )
    lines.append(
        f"- {args.rounds} interleaved rounds x {args.steps} steps after {args.warmup} warm-up "
        "steps; median step time"
    )
    lines.append(
        "- versions: `fused` = eager, fasfast.ops; `reference` = eager, fasfast.ops.reference; "
        "`compiled` = torch.compile(reference model, fullgraph=True) (inductor); "
        "`compiled_fused` = the same for the fused model"
    )
    lines.append("- op state: " + "; ".join(f"`{k}` {v}" for k, v in ops_state().items()))
    lines.append("")
    lines.append(
        "| version | step (ms) | samples/s | vs reference | non-conv parts (ms/step) | "
        "non-conv share | non-conv vs reference | first step (s) |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    ref_step = step_s.get("reference")
    ref_part = part_s.get("reference")
    for v in variants:
        st, pt = step_s[v], part_s[v]
        vs = f"{ref_step / st:.2f}x" if ref_step else "-"
        pvs = f"{ref_part / pt:.2f}x less" if ref_part else "-"
        lines.append(
            f"| {v} | {st * 1e3:.1f} | {args.batch / st:.2f} | {vs} | {pt * 1e3:.2f} | "
            f"{100 * pt / st:.1f}% | {pvs} | {compile_s[v]:.1f} |"
        )
    lines.append("")
    lines.append("Non-conv parts per op (ms per step, forward + backward):")
    lines.append("")
    lines.append("| op | " + " | ".join(variants) + " | reference / fused |")
    lines.append("|---|" + "---:|" * (len(variants) + 1))
    for name in OP_NAMES:
        if f"{variants[0]}/{name}" not in part_s:
            continue
        cells = [f"{part_s[f'{v}/{name}'] * 1e3:.2f}" for v in variants]
        ratio = "-"
        if "fused" in variants and "reference" in variants:
            ratio = f"{part_s[f'reference/{name}'] / part_s[f'fused/{name}']:.2f}x"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio} |")
    lines.append("")
    if profiles:
        cats = list(next(iter(profiles.values())))
        lines.append(
            "Profiler cross-check (torch.profiler, one step per version, self time by op "
            "category, ms; `fasfast` = fasfast ops incl. their backward nodes, `elementwise` = "
            "aten mul/add/sub/sigmoid/cat/copy/fill/upsample ops, where the reference's "
            "non-conv work lands):"
        )
        lines.append("")
        lines.append("| version | " + " | ".join(cats) + " |")
        lines.append("|---|" + "---:|" * len(cats))
        for v, prof in profiles.items():
            lines.append(f"| {v} | " + " | ".join(f"{prof[c] * 1e3:.1f}" for c in cats) + " |")
        lines.append("")
    counts = {n: sum(c.name == n for c in calls) for n in OP_NAMES}
    lines.append(
        "Non-conv parts: the step's "
        + ", ".join(f"{k} x{v}" for k, v in counts.items())
        + " calls, recorded in one forward and replayed in isolation (forward + backward, "
        f"median of {args.op_repeats}) with each version's implementation "
        "(`fasfast.ops`, `fasfast.ops.reference`, `torch.compile(reference op)`); the share is "
        "that time over the version's whole step. The FCAM's 3x3 compress conv is a conv and "
        "is not counted."
    )
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--preset", default="tiny")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--image-size", type=int, default=None, help="override the preset's size")
    p.add_argument("--widths", default=None, help="override the preset's widths, e.g. 32,48,32")
    p.add_argument("--amp", action="store_true", help="autocast (CUDA: bf16 by default)")
    p.add_argument("--amp-dtype", choices=("bf16", "fp16"), default="bf16")
    p.add_argument(
        "--variants",
        default="fused,reference,compiled",
        help=f"comma-separated, from {VARIANTS} (compiled_fused = torch.compile of the fused model)",
    )
    p.add_argument("--steps", type=int, default=3, help="timed steps per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--op-repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--profile", action="store_true", help="add a torch.profiler breakdown")
    p.add_argument("--out", default=None, help="also write the report to this file")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    report = run(args)
    print(report)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
