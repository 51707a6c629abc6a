"""``vidseg run SRC SRC ...`` and ``vidseg run --streams FILE``: several sources in one process.

The command line's options are every source's defaults (a streams file's entry replaces what it
names); each source gets its Redis keys (``vidseg:<id>:*``) and, with ``--out OUT``, its folder
``OUT/<id>/``. One summary line per source at the end. Exit status: 2 when any source failed,
else 0 when every source completed, else 130/143 (stopped by a signal).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from vidseg.errors import ConfigError
from vidseg.pipeline.config import JobConfig
from vidseg.pipeline.streams import StreamSpec, stream_config

log = logging.getLogger("vidseg")
FAILED_EXIT = 2  # as a single run that fails


def source_configs(base: JobConfig, specs: Sequence[StreamSpec]) -> dict[str, JobConfig]:
    """Each source's config (in order), checked before anything starts.

    Raises:
        ConfigError: an entry's options conflict, or ``--out`` already holds a source's outputs.
    """
    configs = {spec.id: stream_config(base, spec, several=True) for spec in specs}
    if base.out is not None and not base.overwrite:
        taken = [sid for sid, c in configs.items() if c.out is not None and (c.out / "manifest.json").exists()]
        if taken:
            raise ConfigError(f"{base.out / taken[0]} already holds an earlier run's outputs; give --overwrite to "
                              "replace them, or another --out")  # fmt: skip
    return configs


def run_many(base: JobConfig, specs: Sequence[StreamSpec]) -> int:
    """Run the sources (Ctrl-C and SIGTERM stop them all); log one line per source; return the
    exit status (see the module docstring)."""
    from vidseg.cli.signals import SignalBridge
    from vidseg.pipeline.many import run_sources
    from vidseg.pipeline.status import JobStatus

    configs = source_configs(base, specs)
    log.info("%d sources in one process: %s", len(configs), ", ".join(configs))
    with SignalBridge() as signals:
        report = run_sources(configs, stop=signals.stop, abort=signals.abort, running=signals.running)
    for outcome in report.outcomes:
        (log.error if outcome.status is JobStatus.FAILED else log.info)("source %s", outcome.line())
    failed = report.failed
    if failed:
        log.error("%d of %d sources failed: %s", len(failed), len(report.outcomes), ", ".join(o.source_id for o in failed))
        return FAILED_EXIT
    return 0 if report.completed else signals.exit_code
