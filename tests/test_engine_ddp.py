"""DDP on CPU: ``torchrun --nproc_per_node 2`` (gloo) trains and evaluates a tiny set."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
from engine_support import IMAGE, WIDTHS, read_csv, tiny_data


@pytest.mark.slow
def test_torchrun_two_processes_train_and_evaluate(tmp_path_factory, tmp_path):
    root = tiny_data(tmp_path_factory)
    # torchrun of this interpreter: a `torchrun` on PATH may belong to another Python (one
    # without fasfast installed, which then only works from the repository root)
    launcher = [sys.executable, "-m", "torch.distributed.run"]
    out = tmp_path / "ddp"
    # `fasfast protocol` = train, then evaluate, under ONE process group
    cmd = launcher + [
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "fasfast",
        "protocol",
        "oulu",
        "--root",
        str(root),
        "--protocol",
        "1",
        "--epochs",
        "1",
        "--image-size",
        str(IMAGE),
        "--widths",
        ",".join(map(str, WIDTHS)),
        "--batch-size",
        "2",
        "--workers",
        "0",
        "--out",
        str(out),
        "--no-progress",
        "--no-tensorboard",
        "--lr",
        "1e-3",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=400, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    from fasfast.data import oulu_npu
    from fasfast.engine import load_checkpoint, load_model
    from fasfast.engine.evaluate import score_split

    ckpt = load_checkpoint(out / "1" / "train" / "last.pt")
    assert ckpt["sampler"]["world_size"] == 2
    assert len(ckpt["rng_per_rank"]) == 2
    # each rank did ceil(12 / 2) = 6 samples in batches of 2 -> 3 steps
    n_train = len(oulu_npu(root, "1", "train"))
    per_rank = math.ceil(n_train / 2)
    assert ckpt["step"] == math.ceil(per_rank / 2)

    ev = out / "1" / "eval"
    model, meta = load_model(out / "1" / "train" / "best.pt")
    for split in ("dev", "test"):
        seqs = read_csv(ev / "scores" / f"{split}_sequence.csv")
        ids = [r["id"] for r in seqs]
        assert len(ids) == len(set(ids)), "a sequence was scored twice"
        videos = read_csv(ev / "scores" / f"{split}_video.csv")
        assert sorted(v["video"] for v in videos) == sorted(
            s.video_id for s in oulu_npu(root, "1", split)
        )
        # the gathered scores equal a single-process scoring of the same checkpoint
        single = score_split(
            model,
            meta,
            dataset="oulu",
            data_root=root,
            protocol="1",
            split=split,
            workers=0,
            progress=False,
        )
        assert sorted(r[0] for r in single.sequence) == sorted(ids)
        want = {r[0]: r[4] for r in single.sequence}
        for row in seqs:
            assert float(row["score"]) == pytest.approx(want[row["id"]], abs=1e-5)
    table2 = json.loads((out / "table2.json").read_text())
    assert table2["sub_protocols"][0]["protocol"] == "1"
    assert 0.0 <= table2["acer"]["mean"] <= 1.0
    assert "| Prot. | Method | APCER(%) | BPCER(%) | ACER(%) |" in (out / "table2.md").read_text()


def test_cleanup_frees_ddp_wrappers_before_destroying_the_group(tmp_path):
    """A DDP wrapper lives in a reference cycle; if it survives ``destroy_process_group`` its
    gloo group is torn down at interpreter exit, where a worker thread taking the GIL aborts the
    process (SIGABRT after a finished run, seen once in CI). ``cleanup`` must free it first."""
    import gc
    import weakref

    import torch
    import torch.distributed as dist

    from fasfast.engine import distributed as du

    gc.disable()  # only cleanup's own collection may free the cycle
    try:
        store = dist.FileStore(str(tmp_path / "store"), 1)
        dist.init_process_group("gloo", store=store, rank=0, world_size=1)
        ddp = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(3, 2))
        ddp(torch.randn(4, 3)).sum().backward()
        # a cycle for sure (whether DDP makes its own depends on the torch version and state)
        ddp.__dict__["_cycle"] = [ddp]
        alive = weakref.ref(ddp)
        del ddp
        assert alive() is not None  # the cycle holds it: the case cleanup exists for
        du.cleanup(du.DistInfo(world_size=1, initialized_here=True))
        assert not dist.is_initialized()
        assert alive() is None
    finally:
        gc.enable()
        if dist.is_initialized():
            dist.destroy_process_group()
