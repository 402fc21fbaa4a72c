"""The 100 faces of scikit-image's LFW subset, as test, benchmark and face-prior data (offline, from a wheel).

`lfw_subset()` holds 200 grayscale 25x25 images: the first 100 are face crops from Labeled Faces in the Wild
(eyebrows to chin), the other 100 are not faces.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import PIL.Image

NUM_FACES = 100


def lfw_faces(resolution: int = 32) -> np.ndarray:
    """uint8 [100, resolution, resolution] gray faces, resized with Lanczos (needs scikit-image)."""
    from skimage.data import lfw_subset

    faces = lfw_subset()[:NUM_FACES]
    return np.stack([
        np.asarray(PIL.Image.fromarray((face * 255).astype(np.uint8), "L").resize(
            (resolution, resolution), PIL.Image.LANCZOS
        ))
        for face in faces
    ])


def write_lfw_zip(path: Path, resolution: int = 32) -> Path:
    """The faces as a dataset zip in NVIDIA's layout (00000/img########.png, dataset.json without labels)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for i, face in enumerate(lfw_faces(resolution)):
            buf = io.BytesIO()
            PIL.Image.fromarray(face, "L").save(buf, format="PNG")
            z.writestr(f"00000/img{i:08d}.png", buf.getvalue())
        z.writestr("dataset.json", json.dumps({"labels": None}))
    return path
