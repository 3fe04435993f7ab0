"""Service settings: limits that are operations' choice, not the policy's."""

from __future__ import annotations

from dataclasses import dataclass, field

from cleanroom.engine import Limits


@dataclass(frozen=True)
class Settings:
    limits: Limits = field(default_factory=Limits)
    max_upload_bytes: int = 2 * 1024**3
    dp_seed: int | None = None  # tests only: a fixed seed for the noise source
