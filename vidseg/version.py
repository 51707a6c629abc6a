"""vidseg's version, in a module of its own: any layer can record it (manifests, dataset and
checkpoint metadata) without importing the package's public façade."""

from __future__ import annotations

__version__ = "0.1.0"
