"""The augmentation choices of NVIDIA's train.py, as data: modes, named pipes, defaults, and their validation.

No torch here: the command line builds its choices and help from this table without loading the pipe,
and the options, the pipe (augment.py) and the controller (ada.py) all read the same names and numbers.
"""

from __future__ import annotations

from ..errors import UserError

AUG_MODES = ("ada", "fixed", "noaug")
DEFAULT_AUG = "ada"

_BLIT = ("xflip", "rotate90", "xint")
_GEOM = ("scale", "rotate", "aniso", "xfrac")
_COLOR = ("brightness", "contrast", "lumaflip", "hue", "saturation")
_FILTER = ("imgfilter",)
_NOISE = ("noise",)
_CUTOUT = ("cutout",)
ALL_OPS = _BLIT + _GEOM + _COLOR + _FILTER + _NOISE + _CUTOUT


def _enable(*groups: tuple[str, ...]) -> dict[str, float]:
    return {name: 1.0 for group in groups for name in group}


# Preset name -> probability multipliers (each 1: the op fires with probability p).
PIPES: dict[str, dict[str, float]] = {
    "blit": _enable(_BLIT),
    "geom": _enable(_GEOM),
    "color": _enable(_COLOR),
    "filter": _enable(_FILTER),
    "noise": _enable(_NOISE),
    "cutout": _enable(_CUTOUT),
    "bg": _enable(_BLIT, _GEOM),
    "bgc": _enable(_BLIT, _GEOM, _COLOR),
    "bgcf": _enable(_BLIT, _GEOM, _COLOR, _FILTER),
    "bgcfn": _enable(_BLIT, _GEOM, _COLOR, _FILTER, _NOISE),
    "bgcfnc": _enable(_BLIT, _GEOM, _COLOR, _FILTER, _NOISE, _CUTOUT),
}
DEFAULT_PIPE = "bgc"

# The ADA controller: target for E[sign(D(real))], kimg for p to move by 1 (faster when fine-tuning a
# pretrained network, as NVIDIA's --resume does), and steps between adjustments.
DEFAULT_TARGET = 0.6
ADA_KIMG = 500.0
TRANSFER_ADA_KIMG = 100.0
ADA_INTERVAL = 4


def check_augment(aug: str, augpipe: str | None, p: float | None, target: float | None) -> None:
    """One-line UserErrors for every value combination NVIDIA's trainer refuses (None = not given)."""
    if aug not in AUG_MODES:
        raise UserError(f"--aug={aug} is not supported: use {', '.join(AUG_MODES[:-1])} or {AUG_MODES[-1]}")
    if p is not None and not 0 <= p <= 1:
        raise UserError("--p must be between 0 and 1")
    if target is not None and not 0 <= target <= 1:
        raise UserError("--target must be between 0 and 1")
    if target is not None and aug != "ada":
        raise UserError("--target can only be used with --aug=ada")
    if augpipe is not None and augpipe not in PIPES:
        raise UserError(f"unknown --augpipe {augpipe!r}: choose one of {', '.join(PIPES)}")
    if aug == "noaug" and p:
        raise UserError("--p cannot be used with --aug=noaug")
    if aug == "fixed" and p is None:
        raise UserError("--aug=fixed needs --p")
