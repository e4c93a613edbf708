"""gunicorn.conf.py: gunicorn started in the project root reads it, and its worker hook takes
what the worker built at start out of the cyclic collector's way."""
from __future__ import annotations

import gc
import runpy
import subprocess
import sys

from review.config import PROJECT_ROOT


def test_gunicorn_reads_the_config_and_its_worker_hook_freezes_what_start_built():
    printed = subprocess.run([sys.executable, "-m", "gunicorn", "--print-config", "app:create_app()"],
                             cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60).stdout
    assert "post_worker_init                   = <post_worker_init()>" in printed
    hook = runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))["post_worker_init"]
    assert gc.get_freeze_count() == 0
    try:
        hook(None)
        assert gc.get_freeze_count() > 1000  # the test process's modules and objects
        before = gc.get_count()[2]
        gc.collect()  # a full collection still runs, over what was made since
        assert gc.get_count()[2] <= before
    finally:
        gc.unfreeze()
