"""Faces from real photos (``faces=FOLDER``): landmarks from the dlib detector, rigid
and smooth non-rigid warps of the photo.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fasfast.data.synth.face import Appearance


class Photo:
    """A real face photo as a subject: rendered by warping it to the wanted landmarks."""

    def __init__(self, image: np.ndarray, landmarks: np.ndarray, app: Appearance):
        self.image = image.astype(np.float32) / 255
        self.lm = landmarks.astype(np.float64)
        self.app = app

    def render(self, lm, bg, pulse, skin_shift=None):
        import cv2

        from fasfast.labels.landmarks import similarity_transform
        from fasfast.labels.maps import face_location_map

        size = bg.shape[0]
        m = similarity_transform(self.lm, lm)
        img = cv2.warpAffine(
            self.image,
            m.astype(np.float64),
            (size, size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT,
        )
        skin = face_location_map(lm, size=size, crop_size=size, supersample=2)
        if pulse:
            img = img * (1 + skin[..., None] * np.array([pulse, 0.6 * pulse, 0], np.float32))
        if skin_shift is not None:
            img = img * (1 + skin[..., None] * (skin_shift - 1))
        return np.clip(img, 0, 1).astype(np.float32), skin


def load_photos(folder) -> list[tuple[np.ndarray, np.ndarray]]:
    from fasfast.data.video import IMAGE_EXTS, read_image
    from fasfast.labels.landmarks import shared_detector

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"--faces folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    det = shared_detector()
    out = []
    for p in files:
        img = read_image(p)
        lm = det.landmarks(img)
        if lm is not None:
            out.append((img, lm))
    if not out:
        raise ValueError(f"no image with a detectable face in {folder} ({len(files)} images)")
    return out
