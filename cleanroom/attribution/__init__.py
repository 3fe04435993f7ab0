"""Cross-channel attribution models computed inside DuckDB (see docs/attribution.md).

Every converting person with a path hands out at most one conversion and their path value; the
heuristic models credit exactly that to the dimension values on the person's own path.
"""

from cleanroom.attribution.run import run_attribution
from cleanroom.attribution.spec import MODELS, AttributionResult, AttributionSpec

__all__ = ["MODELS", "AttributionResult", "AttributionSpec", "run_attribution"]
