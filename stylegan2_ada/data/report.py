"""What `prepare` did, for a person to check: manifest, skipped files, contact sheet, near-duplicates."""

from __future__ import annotations

import base64
import html
import io
import json
import os
from typing import Any

import numpy as np
import PIL.Image
import PIL.ImageDraw

from ..atomic import atomic_write_bytes


def dhash(pixels: np.ndarray, size: int = 8) -> int:
    """Difference hash (64 bits): gradients of a tiny grey thumbnail; robust to resizing and re-encoding."""
    img = PIL.Image.fromarray(pixels).convert("L").resize((size + 1, size), PIL.Image.Resampling.BOX)
    g = np.asarray(img, np.int16)
    bits = (g[:, 1:] > g[:, :-1]).reshape(-1)
    return int(sum(1 << i for i, b in enumerate(bits) if b))


def hamming(a: int, b: int) -> int:
    return bin(a ^ b).count("1")


def find_near_duplicates(
    hashes: list[int],
    threshold: int = 4,
) -> list[tuple[int, int, int]]:
    """Pairs (i, j, distance), i < j, whose 64-bit hashes differ in at most `threshold` bits.

    Multi-index hashing: cut the hash into threshold + 1 blocks; by the pigeonhole principle two hashes
    within `threshold` bits agree exactly on at least one block, so only hashes sharing a block value are
    compared. 70k images (FFHQ-sized) take seconds instead of the 2.5 billion comparisons of all pairs.
    """
    if len(hashes) < 2 or threshold < 0:
        return []
    blocks = min(threshold + 1, 64)
    bounds = [round(64 * b / blocks) for b in range(blocks + 1)]
    candidates: set[tuple[int, int]] = set()
    for b in range(blocks):
        lo, width = bounds[b], bounds[b + 1] - bounds[b]
        buckets: dict[int, list[int]] = {}
        for i, h in enumerate(hashes):
            buckets.setdefault((h >> lo) & ((1 << width) - 1), []).append(i)
        for members in buckets.values():
            for a in range(len(members) - 1):
                for c in members[a + 1 :]:
                    candidates.add((members[a], c))
    pairs = []
    for i, j in sorted(candidates):
        distance = hamming(hashes[i], hashes[j])
        if distance <= threshold:
            pairs.append((i, j, distance))
    return pairs


def contact_sheet(
    images: list[np.ndarray],
    captions: list[str],
    thumb: int = 128,
    columns: int = 10,
) -> PIL.Image.Image:
    """A grid of thumbnails with their dataset index underneath."""
    rows = max(1, (len(images) + columns - 1) // columns)
    cap_h = 14
    sheet = PIL.Image.new("RGB", (columns * thumb, rows * (thumb + cap_h)), (32, 32, 32))
    draw = PIL.ImageDraw.Draw(sheet)
    for i, (pixels, caption) in enumerate(zip(images, captions)):
        x, y = (i % columns) * thumb, (i // columns) * (thumb + cap_h)
        img = PIL.Image.fromarray(pixels if pixels.ndim == 3 and pixels.shape[2] == 3 else np.squeeze(pixels))
        sheet.paste(img.convert("RGB").resize((thumb, thumb), PIL.Image.Resampling.BOX), (x, y))
        draw.text((x + 2, y + thumb + 1), caption[:20], fill=(230, 230, 230))
    return sheet


def _thumb_data_uri(pixels: np.ndarray, size: int = 96) -> str:
    img = PIL.Image.fromarray(np.squeeze(pixels)).convert("RGB").resize((size, size), PIL.Image.Resampling.BOX)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def write_html(
    path: str,
    title: str,
    summary: dict[str, Any],
    entries: list[dict[str, Any]],
    thumbs: list[np.ndarray],
    skipped: list[dict[str, Any]],
    duplicates: list[dict[str, Any]],
    rejected: list[dict[str, Any]] | None = None,
    rejected_thumbs: list[np.ndarray] | None = None,
) -> None:
    """Self-contained page (thumbnails embedded) to eyeball the crops, the rejected face boxes and the skip reasons."""
    e = html.escape
    parts = [
        "<!doctype html><meta charset='utf-8'>",
        f"<title>{e(title)}</title>",
        "<style>body{font-family:sans-serif;margin:1em}figure{display:inline-block;margin:4px;width:100px;"
        "font-size:10px;word-break:break-all;vertical-align:top}img{width:96px;height:96px}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px}</style>",
        f"<h1>{e(title)}</h1>",
        "<ul>" + "".join(f"<li>{e(str(k))}: {e(str(v))}</li>" for k, v in summary.items()) + "</ul>",
        f"<h2>Images ({len(entries)})</h2><div>",
    ]
    for entry, pixels in zip(entries, thumbs):
        tip = e(json.dumps({k: entry.get(k) for k in ("source", "face_index", "mode", "quad_side")}))
        parts.append(
            f"<figure title='{tip}'><img src='{_thumb_data_uri(pixels)}'><figcaption>{e(entry['image'])}<br>"
            f"{e(entry['source'])}</figcaption></figure>"
        )
    parts.append("</div>")
    if rejected:
        parts.append(f"<h2>Rejected face boxes ({len(rejected)})</h2><div>")
        for box, pixels in zip(rejected, rejected_thumbs or []):
            parts.append(
                f"<figure title='{e(box['reason'])}'><img src='{_thumb_data_uri(pixels)}'><figcaption>{e(box['source'])} "
                f"{e(str(box['box']))}<br>{e(box['reason'])}</figcaption></figure>"
            )
        parts.append("</div>")
    if duplicates:
        parts.append(f"<h2>Near-duplicates ({len(duplicates)} pairs)</h2><table><tr><th>image</th><th>image</th><th>bits</th></tr>")
        for d in duplicates:
            parts.append(f"<tr><td>{e(d['a'])}</td><td>{e(d['b'])}</td><td>{d['distance']}</td></tr>")
        parts.append("</table>")
    parts.append(f"<h2>Skipped ({len(skipped)})</h2><table><tr><th>source</th><th>reason</th></tr>")
    for s in skipped:
        parts.append(f"<tr><td>{e(s['source'])}</td><td>{e(s['reason'])}</td></tr>")
    parts.append("</table>")
    # Names are sanitised upstream; 'replace' keeps one odd character from costing the whole page.
    atomic_write_bytes(path, "\n".join(parts).encode("utf-8", "replace"))


def write_report(
    report_dir: str,
    title: str,
    summary: dict[str, Any],
    entries: list[dict[str, Any]],
    thumbs: list[np.ndarray],
    skipped: list[dict[str, Any]],
    duplicates: list[dict[str, Any]],
    sheet_max: int = 400,
    rejected: list[dict[str, Any]] | None = None,
    rejected_thumbs: list[np.ndarray] | None = None,
) -> dict[str, str]:
    """manifest.json, skipped.json, contact_sheet.png (first `sheet_max` crops) and index.html.

    `rejected`: face boxes the detector found but the confirming check turned down (manifest
    'rejected_faces', with thumbnails in the page)."""
    os.makedirs(report_dir, exist_ok=True)
    manifest = {"summary": summary, "images": entries, "skipped": skipped, "near_duplicates": duplicates,
                "rejected_faces": rejected or []}
    paths = {
        "manifest": os.path.join(report_dir, "manifest.json"),
        "skipped": os.path.join(report_dir, "skipped.json"),
        "contact_sheet": os.path.join(report_dir, "contact_sheet.png"),
        "html": os.path.join(report_dir, "index.html"),
    }
    atomic_write_bytes(paths["manifest"], json.dumps(manifest, indent=1).encode("utf-8"))
    atomic_write_bytes(paths["skipped"], json.dumps(skipped, indent=1).encode("utf-8"))
    if thumbs:
        sheet = contact_sheet(thumbs[:sheet_max], [x["image"].split("/")[-1][3:-4] for x in entries[:sheet_max]])
        buf = io.BytesIO()
        sheet.save(buf, format="PNG")
        atomic_write_bytes(paths["contact_sheet"], buf.getvalue())
    write_html(paths["html"], title, summary, entries[:sheet_max], thumbs[:sheet_max], skipped, duplicates,
               (rejected or [])[:sheet_max], (rejected_thumbs or [])[:sheet_max])
    return paths
