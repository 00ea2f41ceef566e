"""Face landmarks (dlib 68-point) and label maps (face location map, binary mask, depth)."""

from fasfast.labels.landmarks import (
    FACE_CONTOUR,
    FLIP_68,
    WFLW98_TO_68,
    Face,
    LandmarkDetector,
    landmark_file_for,
    load_landmarks,
    predictor_path,
    save_landmarks,
    shared_detector,
    template_68,
    to_68,
)
from fasfast.labels.maps import (
    KINDS,
    binary_mask,
    face_location_map,
    make_label_map,
    pseudo_depth,
)

__all__ = [
    "FACE_CONTOUR",
    "FLIP_68",
    "WFLW98_TO_68",
    "Face",
    "LandmarkDetector",
    "landmark_file_for",
    "load_landmarks",
    "predictor_path",
    "save_landmarks",
    "shared_detector",
    "template_68",
    "to_68",
    "KINDS",
    "binary_mask",
    "face_location_map",
    "make_label_map",
    "pseudo_depth",
]
