"""The capture: background, camera (noise, colour response, sharpness per phone),
light (illumination per session) and the sensor model applied to every frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fasfast.data.synth.face import Appearance, pixel_grid


def render_background(app: Appearance, size: int) -> np.ndarray:
    import cv2

    ca, cb, ang, seed = app.bg
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size
    t = np.clip(0.5 + (xx - 0.5) * np.cos(ang) + (yy - 0.5) * np.sin(ang), 0, 1)[..., None]
    img = ca * (1 - t) + cb * t
    blobs = np.random.default_rng(seed).uniform(-1, 1, (6, 6, 3))
    img = img + 0.12 * cv2.resize(blobs, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(img, 0, 1).astype(np.float32)


@dataclass
class Camera:
    noise: float
    colour: np.ndarray  # 3x3
    blur: float
    gain: float


@dataclass
class Light:
    gain: float
    tint: np.ndarray
    grad: float
    angle: float


def sample_camera(rng) -> Camera:
    return Camera(
        noise=rng.uniform(1.5, 3.5) / 255,
        colour=np.eye(3) + rng.uniform(-0.04, 0.04, (3, 3)),
        blur=rng.uniform(0.4, 0.9),
        gain=rng.uniform(0.95, 1.05),
    )


def sample_light(rng, session: int) -> Light:
    strong = session >= 3
    return Light(
        gain=rng.uniform(0.7, 0.85) if strong else rng.uniform(0.9, 1.1),
        tint=1 + rng.uniform(-0.08, 0.08, 3) * (2 if strong else 1),
        grad=rng.uniform(0.1, 0.35) if strong else rng.uniform(0.0, 0.15),
        angle=rng.uniform(0, 2 * np.pi),
    )


def capture_frame(
    img: np.ndarray,
    cam: Camera,
    light: Light,
    rng,
    noise_scale: float = 1.0,
    fixed_noise: np.ndarray | None = None,
) -> np.ndarray:
    """Camera model: illumination, optics blur, colour response, noise -> uint8 RGB."""
    import cv2

    size = img.shape[0]
    yy, xx = pixel_grid(size)
    key = (size, light.grad, light.angle, light.gain, cam.gain)
    if getattr(light, "_key", None) != key:
        g = 1 + light.grad * (
            (xx / size - 0.5) * np.cos(light.angle) + (yy / size - 0.5) * np.sin(light.angle)
        )
        light._field = (g * (light.gain * cam.gain)).astype(np.float32)[
            ..., None
        ] * light.tint.astype(np.float32)
        light._key = key
    out = img * light._field
    out = cv2.GaussianBlur(out, (0, 0), cam.blur)
    out = cv2.transform(out, cam.colour.astype(np.float32))
    if noise_scale > 0:
        out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(
            cam.noise * noise_scale
        )
    if fixed_noise is not None:
        out += fixed_noise
    out *= 255
    out += 0.5
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)
