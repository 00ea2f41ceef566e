"""Synthetic face anti-spoofing videos in an OULU-NPU-shaped tree.

The licensed data sets cannot be shipped, so tests, the demo and the benchmarks use
this generator. :func:`generate` writes::

    <out>/Train_files/1_1_01_1.avi            Phone_Session_User_File, lossless FFV1
    <out>/Train_files/1_1_01_1.landmarks.npy  float32 [F, 68, 2], frame pixels (exact)
    <out>/{Dev,Test}_files/...
    <out>/Protocols/Protocol_1/{Train,Dev,Test}.txt       "+1,1_1_01_1" (+1 live, -1 print,
    <out>/Protocols/Protocol_2/...                          -2 replay, -3 digital)
    <out>/Protocols/Protocol_{3,4}/{Train,Dev,Test}_k.txt  (k = held-out phone; phones >= 2)
    <out>/synth.json                           the settings and the file list

Files per (phone, session, user): 1 live, 2-3 print, 4-5 replay (as OULU-NPU) and
6 digital (an edited face; not in OULU-NPU, read back as attack type "digital").
Users are split over Train / Dev / Test in the ratio 3 : 1 : 2. Phones differ in noise,
colour response and sharpness; sessions in illumination (session 3 most).

Faces are drawn from a 68-point template deformed per subject (face shape, skin tone,
eyes, brows, nose, mouth, hair, background), so their landmarks are exact. With
``faces=FOLDER`` real photos are used instead (landmarks from the dlib detector,
rigid + smooth non-rigid warps of the photo; no blinks).

- live: non-rigid micro-motion (smooth per-landmark drift, expression), head sway,
  blinks, a faint ~1.2 Hz pulse in the red/green channels of the skin, fresh sensor
  noise every frame.
- print (files 2, 3): one still, printed (halftone screen, reduced contrast and
  saturation, paper tint and texture), moved rigidly as a whole with hand shake; its
  noise is printed in, so the same pattern every frame (plus weak fresh camera noise).
- replay (files 4, 5): a live clip shown on a screen at a lower frame rate (frames
  repeated: judder), screen gamma and tint, visible pixel grid, moire bands, glare,
  small rigid shake.

The halftone period and the screen's pixel pitch are relative to the frame size (3.5-5.5
px once the face is cropped to 64 px), so these texture cues survive the camera blur and
the crop resampling and do not depend on the face (skin tone, identity); global colour
differences (print gamut, screen gamma) are kept moderate so that they are not the only
cue.
- digital (file 6): a live clip whose inner face is replaced by another face rendered
  at low resolution, up-sampled and sharpened (halo), pasted with a feathered seam and
  a colour mismatch, without the pulse and with smoothed noise.

Artefact strengths are drawn per video, some weak, so the task is learnable but not
trivial. ``artefacts`` (the difficulty knob, default 1) scales every appearance cue of the
attacks toward none: the print's halftone, contrast / saturation loss, paper tint, texture
and printed-in noise; the screen's pixel grid, moire, glare, gamma and tint; the digital
edit's down-sampling, sharpening halo, colour mismatch and smoothed noise. The motion cues
(a print's rigid motion and fixed noise, a replay's judder) are kept, so at 0 the attacks
differ from live faces only in how they move. At 1 the bytes are those of the default;
values above 1 (up to 2) make the cues stronger. ``recapture`` (0-2, default 0 = none)
adds the detail every attack's media lost before it is presented, the cue Huang et al. 2024
(Sec. 3.2) say the PAI species share: the image a print or a replay shows was itself
captured (a source camera's blur) and resampled, and a digital edit is re-encoded at a
lower resolution (``live.source_loss``: a blur and a 2-4x down- / up-sampling, moved toward
none by the knob; live videos untouched). Without it the print's halftone and the screen's
grid *add* high-frequency energy while the digital edit removes it, so the seen and unseen
attack types of a leave-one-type-out protocol share no cue. Everything is drawn from
``numpy.random.default_rng([seed, ...])``: the same seed gives the same bytes.

Layout (one file per part of the generator; underscore names are private to the package)::

    face.py      the face: template, appearance, rendering, motion
    capture.py   background, camera, light, the sensor model
    photos.py    faces from real photos
    live.py      bona fide clips and the context every renderer shares
    printed.py   print attacks
    replay.py    replay attacks
    digital.py   digital edits
    tree.py      the OULU-NPU-shaped tree: file names, user split, protocols, synth.json
"""

from fasfast.data.synth.live import ARTEFACTS_MAX
from fasfast.data.synth.tree import (
    ATTACK_FILES,
    SynthConfig,
    generate,
    render_video,
    split_users,
)

__all__ = [
    "ARTEFACTS_MAX",
    "ATTACK_FILES",
    "SynthConfig",
    "generate",
    "render_video",
    "split_users",
]
