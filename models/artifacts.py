"""Model artifacts on disk: skops files whose sha256 is checked and whose types are allow-listed on load."""

from __future__ import annotations

from pathlib import Path

import skops.io as sio

from common.hashing import file_sha256
from models.training import ScoringBundle

OWN_TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        "models.training.ScoringBundle",
        "models.preference.PairwisePreferenceModel",
        "models.preference.PointwiseQualityModel",
    }
)


def save_bundle(bundle: ScoringBundle, path: str | Path) -> str:
    """Write the bundle with skops (no pickle) and return the file's sha256."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(bundle, target)
    return file_sha256(target)


def load_bundle(path: str | Path, expected_sha256: str) -> ScoringBundle:
    """Load a bundle only if its bytes match the registered sha256 and every type it needs is
    trusted by skops by default or is one of our own model classes."""
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"model artifact not found: {source}")
    actual = file_sha256(source)
    if actual != expected_sha256:
        raise ValueError(
            f"model artifact {source} has sha256 {actual[:12]}..., registry says {expected_sha256[:12]}...; refusing to load"
        )
    untrusted = sio.get_untrusted_types(file=source)
    unexpected = sorted(set(untrusted) - OWN_TRUSTED_TYPES)
    if unexpected:
        raise ValueError(
            f"model artifact {source} contains untrusted types: {', '.join(unexpected)}"
        )
    bundle = sio.load(source, trusted=untrusted)
    if not isinstance(bundle, ScoringBundle):
        raise ValueError(
            f"model artifact {source} holds a {type(bundle).__name__}, not a ScoringBundle"
        )
    return bundle
