"""Visual diagnostics: Eulerian video magnification and Grad-CAM on EulerNet.

Heavy submodules are imported on use: ``from fasfast.diagnostics.magnify import magnify_video``,
``from fasfast.diagnostics.gradcam import GradCAM``.
"""

from __future__ import annotations

__all__ = ["magnify_video", "GradCAM", "gradcam_sequence"]


def __getattr__(name: str):
    if name == "magnify_video":
        from fasfast.diagnostics.magnify import magnify_video

        return magnify_video
    if name in ("GradCAM", "gradcam_sequence"):
        from fasfast.diagnostics import gradcam

        return getattr(gradcam, name)
    raise AttributeError(name)
