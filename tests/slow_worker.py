"""A real scan worker whose scans hang, so a test can kill it mid-job.

Run as `python -m tests.slow_worker '<settings as JSON>'` from the project root.
"""
import json
import sys
import time

from review import config
from review.scanning import engine as engine_module
from workers import worker
from workers.runtime import Runtime


def hanging_scan(self, text, include_low=False):
    time.sleep(300)


if __name__ == "__main__":
    engine_module.ScanEngine.scan = hanging_scan
    worker.run(Runtime(config.load(json.loads(sys.argv[1]))), burst=True, with_scheduler=False)
