"""genannot: genome annotation with DNA language models."""

__version__ = "0.1.0"

# Hugging Face libraries must never reach the network on their own: only `genannot models pull` may.
from genannot.models.registry import ensure_offline as _ensure_offline  # noqa: E402

_ensure_offline()
