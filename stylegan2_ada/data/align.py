"""FFHQ face alignment (the crop that FFHQ-pretrained networks expect), written from the published recipe.

1. An oriented square ("quad") from the eye centres and mouth corners: centre = eye midpoint + 0.1 *
   (mouth midpoint - eye midpoint); x axis = eye-to-eye vector minus the eye-to-mouth vector turned 90
   degrees; half side = max(2.0 * eye distance, 1.8 * eye-to-mouth distance).
2. If the quad is much larger than the output, shrink the photo first (anti-aliasing).
3. Crop the photo to the quad plus a border; where the quad leaves the photo, reflect-pad it, blur the
   padding progressively and fade it towards the median colour (no hard mirrored edges for the GAN to learn).
4. Render the quad at `supersample` x the output size with bilinear sampling, then Lanczos down to the
   output (NVIDIA: 4096 -> 1024).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import PIL.Image
import PIL.ImageFilter

from .transforms import RESIZE_FILTERS


@dataclass
class AlignResult:
    pixels: np.ndarray  # output_size x output_size x 3 uint8
    quad: np.ndarray  # 4x2 source-pixel corners (top-left, bottom-left, bottom-right, top-right)
    quad_side: float  # side of the quad in source pixels (resolution actually available)
    padded: bool  # part of the crop lay outside the photo and was synthesised


def ffhq_quad(
    eye_left: np.ndarray,
    eye_right: np.ndarray,
    mouth_left: np.ndarray,
    mouth_right: np.ndarray,
) -> np.ndarray:
    """The FFHQ crop square from four points (source pixel coordinates); corners TL, BL, BR, TR."""
    eye_left, eye_right = np.asarray(eye_left, np.float64), np.asarray(eye_right, np.float64)
    eye_mid = (eye_left + eye_right) * 0.5
    eye_to_eye = eye_right - eye_left
    mouth_mid = (np.asarray(mouth_left, np.float64) + np.asarray(mouth_right, np.float64)) * 0.5
    eye_to_mouth = mouth_mid - eye_mid
    # Average the two cues for the horizontal direction: the eye line, and the face's vertical axis
    # turned by -90 degrees (so a tilted mouth also corrects roll).
    x = eye_to_eye - np.array([-eye_to_mouth[1], eye_to_mouth[0]])
    x /= np.hypot(*x)
    x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.array([-x[1], x[0]])  # x turned +90 degrees: image 'down' for an upright face
    c = eye_mid + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


def box_quad(
    box: tuple[float, float, float, float],
    margin: float = 0.4,
) -> np.ndarray:
    """Axis-aligned square around a face box, `margin` x the box side added on every side."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = max(x1 - x0, y1 - y0) * (0.5 + margin)
    return np.array([[cx - half, cy - half], [cx - half, cy + half], [cx + half, cy + half], [cx + half, cy - half]])


def quad_side(quad: np.ndarray) -> float:
    return float(np.hypot(*(quad[3] - quad[0])))


def map_points(
    points: np.ndarray,
    quad: np.ndarray,
    output_size: int,
) -> np.ndarray:
    """Source pixel coordinates -> output pixel coordinates of a crop rendered from `quad`."""
    points = np.asarray(points, np.float64)
    ex = (quad[3] - quad[0]) / quad_side(quad) ** 2  # unit x axis / side
    ey = (quad[1] - quad[0]) / float(np.hypot(*(quad[1] - quad[0]))) ** 2
    rel = points - quad[0]
    # Source index p is the continuous point p + 0.5 and the quad is rendered from quad + 0.5, so the
    # offsets cancel; output continuous u is pixel index u - 0.5.
    u = (rel @ ex) * output_size
    v = (rel @ ey) * output_size
    return np.stack([u, v], axis=-1) - 0.5


def canonical_eyes(
    output_size: int,
    mouth_to_eye_ratio: float = 1.0,
) -> np.ndarray:
    """Where FFHQ alignment puts the eye centres (2x2: left, right) for an upright frontal face.

    When 2 * eye distance wins the max() (eye-to-mouth up to 1.11 x eye distance, true for most frontal
    faces), the crop is 4 eye distances wide: eyes at 3/8 and 5/8 of the width, 0.1 * mouth distance
    above the centre.
    """
    s = float(output_size)
    y = 0.5 - 0.1 * mouth_to_eye_ratio / 4.0
    return np.array([[0.375 * s, y * s], [0.625 * s, y * s]]) - 0.5


def _blur(
    arr: np.ndarray,
    sigma: float,
) -> np.ndarray:
    """Gaussian blur of an HxWx3 uint8 image, as float32.

    The blur (sigma = 2% of the face square, ~70 px for a 12 MP portrait) only feeds the low-frequency fill
    of the padding, so it is computed on a copy reduced by ~sigma/4 and scaled back: seconds become
    milliseconds, and the result differs from a full-size blur by well under one grey level.
    """
    h, w = arr.shape[:2]
    k = max(1, int(sigma / 4))
    img = PIL.Image.fromarray(arr)
    if k > 1:
        img = img.resize((max(1, w // k), max(1, h // k)), PIL.Image.Resampling.BOX)
        sigma = float(np.sqrt(max(sigma**2 - k**2 / 12.0, 0.25))) / k  # the box already blurred a little
    img = img.filter(PIL.ImageFilter.GaussianBlur(radius=sigma))
    if k > 1:
        img = img.resize((w, h), PIL.Image.Resampling.BILINEAR)
    return np.asarray(img, np.float32)


def _pad_reflect_blurred(
    img: PIL.Image.Image,
    pad: tuple[int, int, int, int],
    side: float,
    window: tuple[int, int, int, int],
) -> PIL.Image.Image:
    """Reflect-pad (left, top, right, bottom), blur and fade the padding to the median colour.

    Only `window` (x0, y0, x1, y1 in padded coordinates: the part the quad will sample) is returned and
    computed at full resolution; the rest of the canvas only feeds the blur and the median.
    """
    left, top, right, bottom = pad
    padded = np.pad(np.asarray(img), ((top, bottom), (left, right), (0, 0)), mode="reflect")
    h, w = padded.shape[:2]
    # Mask: 0 at the photo's border, 1 at the outer edge of the padding, negative inside the photo.
    # It is max(mask_x, mask_y), so 1-D profiles suffice.
    ys = np.arange(h, dtype=np.float32)
    xs = np.arange(w, dtype=np.float32)
    mask_y = 1.0 - np.minimum(ys / max(top, 1), (h - 1 - ys) / max(bottom, 1))
    mask_x = 1.0 - np.minimum(xs / max(left, 1), (w - 1 - xs) / max(right, 1))
    blurred = _blur(padded, side * 0.02)

    def blend_blur(rows: slice | np.ndarray, cols: slice | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mask = np.maximum(mask_y[rows][:, None], mask_x[cols][None, :])[:, :, None]
        region = padded[rows][:, cols].astype(np.float32)
        region += (blurred[rows][:, cols] - region) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
        return region, mask

    # The fade goes to the median of the blurred-and-blended canvas (estimated on every 4th pixel).
    sample, _ = blend_blur(np.arange(0, h, 4), np.arange(0, w, 4))
    median = np.median(sample.reshape(-1, 3), axis=0)

    # Both weights are zero where mask <= -1/3, deep inside the photo: only the bands near the edges change.
    x0, y0, x1, y1 = window
    out = padded[y0:y1, x0:x1].copy()
    t1 = min(h, int(np.ceil(top * 4 / 3)) + 2)
    b0 = max(t1, h - int(np.ceil(bottom * 4 / 3)) - 2)
    l1 = min(w, int(np.ceil(left * 4 / 3)) + 2)
    r0 = max(l1, w - int(np.ceil(right * 4 / 3)) - 2)
    bands = [((0, t1), (0, w)), ((b0, h), (0, w)), ((t1, b0), (0, l1)), ((t1, b0), (r0, w))]
    for (ra, rb), (ca, cb) in bands:
        ra, rb, ca, cb = max(ra, y0), min(rb, y1), max(ca, x0), min(cb, x1)  # clip the band to the window
        if rb <= ra or cb <= ca:
            continue
        region, mask = blend_blur(slice(ra, rb), slice(ca, cb))
        region += (median - region) * np.clip(mask, 0.0, 1.0)
        out[ra - y0 : rb - y0, ca - x0 : cb - x0] = np.clip(np.rint(region), 0, 255).astype(np.uint8)
    return PIL.Image.fromarray(out, "RGB")


def _warp_quad(
    img: PIL.Image.Image,
    quad: np.ndarray,
    size: int,
) -> PIL.Image.Image:
    """Bilinear resampling of the quad into size x size (PIL's QUAD transform semantics).

    The FFHQ quad is a rotated square, so the map is affine; OpenCV's warpAffine does the same sampling
    several times faster than PIL's generic QUAD transform (0.1 s vs 0.8 s at 4096^2), PIL is the fallback.
    """
    try:
        import cv2
    except ImportError:
        cv2 = None
    if cv2 is None:
        return img.transform((size, size), PIL.Image.Transform.QUAD, (quad + 0.5).flatten().tolist(), PIL.Image.Resampling.BILINEAR)
    # Output pixel index (x, y) has continuous centre (x + 0.5) / size along the quad's edges; the source
    # continuous point is quad + 0.5 + ..., i.e. source pixel index quad + (x + 0.5) / size * edge.
    ex = (quad[3] - quad[0]) / size
    ey = (quad[1] - quad[0]) / size
    origin = quad[0] + 0.5 * ex + 0.5 * ey
    matrix = np.array([[ex[0], ey[0], origin[0]], [ex[1], ey[1], origin[1]]], np.float64)
    out = cv2.warpAffine(
        np.asarray(img), matrix, (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0),
    )
    return PIL.Image.fromarray(out)


def render_quad(
    pixels: np.ndarray,
    quad: np.ndarray,
    output_size: int,
    supersample: int = 4,
    padding: str = "reflect",
    pad_color: tuple[int, int, int] = (0, 0, 0),
    resize_filter: str = "lanczos",
) -> AlignResult:
    """Cut `quad` out of the photo into an output_size square (steps 2-4 above).

    padding: 'reflect' (FFHQ), 'color' (solid `pad_color`), or 'none' (PIL fills outside with black).
    """
    img = PIL.Image.fromarray(pixels)
    quad = np.asarray(quad, np.float64).copy()
    side = quad_side(quad)
    original_side = side
    padded = False

    # Shrink: rendering a quad 4x+ bigger than the output would alias; reduce the photo first.
    shrink = int(np.floor(side / output_size * 0.5))
    if shrink > 1:
        size = (int(np.rint(img.size[0] / shrink)), int(np.rint(img.size[1] / shrink)))
        img = img.resize(size, PIL.Image.Resampling.LANCZOS)
        quad /= shrink
        side /= shrink

    # Crop to the quad plus a border (cheaper padding and transform).
    border = max(int(np.rint(side * 0.1)), 3)
    lo = np.floor(quad.min(axis=0)).astype(int)
    hi = np.ceil(quad.max(axis=0)).astype(int)
    crop = (max(lo[0] - border, 0), max(lo[1] - border, 0), min(hi[0] + border, img.size[0]), min(hi[1] + border, img.size[1]))
    if crop[2] <= crop[0] or crop[3] <= crop[1]:
        raise ValueError("the crop lies entirely outside the photo")
    if crop[2] - crop[0] < img.size[0] or crop[3] - crop[1] < img.size[1]:
        img = img.crop(crop)
        quad -= crop[0:2]

    # Pad where the quad leaves the photo.
    lo = np.floor(quad.min(axis=0)).astype(int)
    hi = np.ceil(quad.max(axis=0)).astype(int)
    pad = (max(-lo[0] + border, 0), max(-lo[1] + border, 0), max(hi[0] - img.size[0] + border, 0), max(hi[1] - img.size[1] + border, 0))
    if padding != "none" and max(pad) > border - 4:
        pad = tuple(int(v) for v in np.maximum(pad, int(np.rint(side * 0.3))))
        padded = min(lo) < 0 or hi[0] > img.size[0] or hi[1] > img.size[1]
        quad += pad[:2]
        if padding == "reflect":
            size = (img.size[0] + pad[0] + pad[2], img.size[1] + pad[1] + pad[3])
            lo = np.floor(quad.min(axis=0)).astype(int) - 2
            hi = np.ceil(quad.max(axis=0)).astype(int) + 2
            window = (max(lo[0], 0), max(lo[1], 0), min(hi[0], size[0]), min(hi[1], size[1]))
            img = _pad_reflect_blurred(img, pad, side, window)
            quad -= window[:2]
        else:
            canvas = PIL.Image.new("RGB", (img.size[0] + pad[0] + pad[2], img.size[1] + pad[1] + pad[3]), tuple(pad_color))
            canvas.paste(img, (pad[0], pad[1]))
            img = canvas

    # Supersampled render, then a good downsampling filter.
    render = output_size * max(1, supersample)
    img = _warp_quad(img, quad, render)
    if render != output_size:
        img = img.resize((output_size, output_size), RESIZE_FILTERS[resize_filter])
    return AlignResult(pixels=np.asarray(img), quad=quad, quad_side=original_side, padded=padded)


def align_face(
    pixels: np.ndarray,
    eye_left: np.ndarray,
    eye_right: np.ndarray,
    mouth_left: np.ndarray,
    mouth_right: np.ndarray,
    output_size: int = 1024,
    supersample: int = 4,
    padding: str = "reflect",
    pad_color: tuple[int, int, int] = (0, 0, 0),
    resize_filter: str = "lanczos",
) -> AlignResult:
    """FFHQ-aligned crop. The returned quad is in the original photo's coordinates."""
    quad = ffhq_quad(eye_left, eye_right, mouth_left, mouth_right)
    result = render_quad(pixels, quad, output_size, supersample, padding, pad_color, resize_filter)
    result.quad = quad
    return result


def sharpness(pixels: np.ndarray) -> float:
    """Variance of the Laplacian on a 256x256 grey version: low values mean blurry/upscaled crops."""
    gray = PIL.Image.fromarray(pixels).convert("L").resize((256, 256), PIL.Image.Resampling.BOX)
    g = np.asarray(gray, np.float32)
    lap = -4.0 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var())
