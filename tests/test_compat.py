"""The torchvision/timm import shim (fasfast._compat), each check in a fresh interpreter."""

import json
import subprocess
import sys

_PROBE = r"""
import json, sys
import fasfast._compat as compat
first = compat.ensure_torchvision_importable()
second = compat.ensure_torchvision_importable()   # idempotent
timm = compat.import_timm()
import torch, torchvision
import torchvision.transforms as T
model = timm.create_model("convnextv2_atto", pretrained=False, num_classes=2)
out = model(torch.rand(1, 3, 32, 32))
from timm.data import Mixup
from timm.optim import create_optimizer_v2
opt = create_optimizer_v2(model, "lookahead_radam", lr=1e-4)
nms_error = None
if compat.torchvision_ops_shimmed:
    try:
        torchvision.ops.nms(torch.rand(3, 4), torch.rand(3), 0.5)
    except Exception as e:  # no kernel behind the shimmed schema
        nms_error = type(e).__name__ + ": " + str(e)[:200]
print(json.dumps({"shimmed": compat.torchvision_ops_shimmed, "first": first, "second": second,
                  "out": list(out.shape), "opt": type(opt).__name__,
                  "blur": T.GaussianBlur.__name__, "nms_error": nms_error}))
"""


def _probe() -> dict:
    r = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_timm_and_torchvision_import_through_the_shim():
    info = _probe()
    assert info["out"] == [1, 2]
    assert info["opt"] == "Lookahead"
    assert info["blur"] == "GaussianBlur"
    # ensure_torchvision_importable reports the same state every call
    assert info["first"] == info["shimmed"]
    assert info["second"] == info["shimmed"]
    if info["shimmed"]:
        # detection ops have a schema but no kernel: a clear error, not a crash
        # (torchvision's own "Couldn't load custom C++ ops", or the dispatcher's no-kernel error)
        assert info["nms_error"] is not None
        assert "C++ ops" in info["nms_error"] or "nms" in info["nms_error"]


def test_plain_torchvision_import_fails_without_the_shim_only_when_ops_cannot_load():
    code = (
        "import fasfast._compat as c, json\n"
        "ok = c._torchvision_ops_loadable()\n"
        "try:\n"
        "    import torchvision  # noqa\n"
        "    imported = True\n"
        "except Exception:\n"
        "    imported = False\n"
        "print(json.dumps({'loadable': ok, 'imported': imported}))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    info = json.loads(r.stdout.strip().splitlines()[-1])
    # when torchvision's own ops load, a plain import works; when they cannot, the
    # plain import is the failure the shim exists for
    assert info["imported"] == info["loadable"]
