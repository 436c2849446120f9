"""The data-quality checks after the first view: into a pending report, in a process of their own
at low CPU priority.

The app draws a new database's first view before the checks' table scans (7 s at 10M
leads on two cores) and runs them afterwards, in a pause of the slider moves. Run beside
the moves, in a thread of the app's process they took the cores the moves needed (a threshold
move at 10M: 160 -> 282 ms median), in this niced process 235 ms: the operating system gives
the app the CPU first, though the browser and the app still share two cores with it. The process
opens the file read-only with its own DuckDB and its own spill folder, and sends back
the report (pickled: it is our own child).

Run as ``python -m scoring.data.quality_later`` by :func:`check_in_process` only.
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..model.config import SourceMapping
from ..model.findings import QualityReport
from .quality import check_quality
from .source import open_source, temp_directory

NICENESS = 10
"""How much lower than the app the checks run (``nice``): they wait while a move computes."""


def check_file(path: str | Path, mapping: SourceMapping, now: dt.datetime, data_end: dt.datetime) -> QualityReport:
    """``check_quality`` on a connection of its own to the file at ``path``."""
    with open_source(path) as source:
        return check_quality(source, mapping, now=now, data_end=data_end)


def check_into(report: QualityReport, path: str | Path, mapping: SourceMapping, now: dt.datetime,
               data_end: dt.datetime, separate_process: bool = False) -> None:
    """Run ``check_quality`` on a connection of its own and fill the pending ``report`` with it.

    For the app, which draws a new database's first view before these scans (seven seconds
    at 10M leads) and runs them afterwards, in a low-priority process of their own
    (``separate_process``, ``check_in_process``) so slider moves keep the CPU. A failure
    is recorded in the report (``give_up``): its findings are then unknown, and the app and
    the exports say so instead of "no problems".
    """
    try:
        found = (check_in_process if separate_process else check_file)(path, mapping, now, data_end)
    except Exception as exc:  # noqa: BLE001  (recorded in the report, shown where the findings go)
        report.give_up(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    else:
        report.complete(found)


class CheckProcessError(RuntimeError):
    """The checks' process failed; the message says why in one line."""


def check_in_process(path: str | Path, mapping: SourceMapping, now: dt.datetime,
                     data_end: dt.datetime) -> QualityReport:
    """``check_quality`` on ``path``, run in a child process at low priority; raises
    ``CheckProcessError`` with the child's one-line reason when it fails."""
    spill = Path(tempfile.mkdtemp(prefix="checks-", dir=temp_directory()))  # DuckDB's spill files are per instance
    try:
        proc = subprocess.run([sys.executable, "-m", __name__], input=pickle.dumps((str(path), mapping, now, data_end)),
                              capture_output=True, env={**os.environ, "LEADCAL_TMP": str(spill)}, check=False)
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise CheckProcessError(lines[-1] if lines else f"the check process ended with exit code {proc.returncode}")
    report = pickle.loads(proc.stdout)
    if not isinstance(report, QualityReport):
        raise CheckProcessError("the check process sent back no report")
    return report


def _main() -> int:
    if hasattr(os, "nice"):
        os.nice(NICENESS)
    path, mapping, now, data_end = pickle.load(sys.stdin.buffer)
    try:
        report = check_file(path, mapping, now, data_end)
    except Exception as exc:  # noqa: BLE001  (one line for the parent, which records it in the report)
        print(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, file=sys.stderr)
        return 1
    sys.stdout.buffer.write(pickle.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
