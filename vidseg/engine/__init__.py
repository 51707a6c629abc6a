"""The model owners: one thread per model runs every source's calls to it, in a fair order.

- :mod:`vidseg.engine.scheduler`: :class:`FairScheduler`, which source's call runs next;
- :mod:`vidseg.engine.owner`: :class:`ModelOwner`, the thread, and :class:`OwnerClient`, a
  source's handle on it;
- :mod:`vidseg.engine.owned`: the tracker, the semantic model and the proposer as a source sees
  them (each call handed to the owner).

:func:`vidseg.pipeline.many.run_sources` builds them for a run of several sources.
"""

from __future__ import annotations

from vidseg.engine.owner import ClientStats, ModelOwner, OwnerClient
from vidseg.engine.scheduler import FairScheduler, Request

__all__ = ["ClientStats", "FairScheduler", "ModelOwner", "OwnerClient", "Request"]
