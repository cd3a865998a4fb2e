"""genannot: genome annotation with DNA language models."""

__version__ = "0.1.0"
