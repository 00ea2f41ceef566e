"""A real-face test clip: scikit-image's ``astronaut`` photo moved, scaled and rotated.

The data path's quality bar (tracked against exact face detection) is measured on real
faces; the licensed data sets are not here, so :func:`astronaut_clip` makes a video from
the one real face photo that ships with a well-kept package (``skimage.data.astronaut()``,
512x512, NASA, public domain). The photo is placed on a dark canvas by a similarity
transform that changes smoothly over time:

- scale ``1.15 + 0.4 sin(2 pi t / 7)`` (face about 70 to 140 pixels wide at 1280x720),
- rotation ``8 sin(2 pi t / 5)`` degrees,
- the face centre sways over ``+-30 %`` of the width and ``+-15 %`` of the height;
- at ``t = seconds / 2`` the motion jumps (a scene cut: the face reappears elsewhere,
  at another scale), so a tracker must notice that it lost the face.

Everything scales with ``size``, so a small clip (CI) has the same motion as the full one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# The astronaut's face box in the 512x512 photo (dlib HOG detector, upsample 1):
# (175, 76)-(266, 167); the motion is defined for this centre.
_FACE_CENTRE = np.array([220.5, 121.5])


def _pose(t: float, seconds: float) -> tuple[float, float, float, float]:
    """(scale, angle in degrees, face x, face y) at time ``t``; x, y as fractions."""
    cut = t >= seconds / 2
    phase = 2.1 if cut else 0.0
    scale = 1.15 + 0.4 * np.sin(2 * np.pi * t / 7 + phase)
    angle = 8.0 * np.sin(2 * np.pi * t / 5 + phase)
    fx = 0.5 + 0.30 * np.sin(2 * np.pi * t / 9 + 2 * phase)
    fy = 0.5 + 0.15 * np.sin(2 * np.pi * t / 6 + 1 + phase)
    return float(scale), float(angle), float(fx), float(fy)


def astronaut_frames(seconds: float = 10.0, fps: float = 25.0, size=(1280, 720)):
    """Yield the clip's RGB ``uint8 [H, W, 3]`` frames (``size`` = (width, height))."""
    import cv2
    from skimage import data as skdata

    w, h = int(size[0]), int(size[1])
    if w < 64 or h < 64:
        raise ValueError(f"size must be at least 64x64, got {size}")
    photo = skdata.astronaut()
    k = w / 1280.0  # the motion is defined at 1280 wide
    n = max(1, int(round(seconds * fps)))
    for i in range(n):
        scale, angle, fx, fy = _pose(i / fps, seconds)
        m = cv2.getRotationMatrix2D(tuple(_FACE_CENTRE), angle, scale * k)
        m[:, 2] += np.array([fx * w, fy * h]) - _FACE_CENTRE
        yield cv2.warpAffine(
            photo,
            m,
            (w, h),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(24, 26, 30),
        )


def astronaut_clip(
    path, seconds: float = 10.0, fps: float = 25.0, size=(1280, 720), codec: str = "MJPG"
) -> Path:
    """Write the astronaut clip to ``path`` (default MJPG .avi, 1280x720, 10 s at 25 fps).

    Needs scikit-image (a dev dependency). Returns the path.
    """
    from fasfast.data.video import write_video

    return write_video(path, astronaut_frames(seconds, fps, size), fps=fps, codec=codec)
