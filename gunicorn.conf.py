"""gunicorn reads this file from its working directory: `flask serve`, bench/pages_load.py
and a plain `gunicorn 'app:create_app()'` started in the project root all use it. Settings
given on the command line (workers, threads, bind) still win."""
import gc


def post_worker_init(worker):
    """What the worker built before its first request (modules, the app, compiled code) lives
    as long as the worker: collected once, then frozen out of the cyclic collector, so a full
    collection scans only what requests made since. Without this one full collection took
    about 90 ms every few hundred requests of the review queue, stalling all the worker's
    threads meanwhile. Frozen objects are still freed when nothing refers to them; only a
    reference cycle among them would stay (gc.unfreeze() gives them back)."""
    gc.collect()
    gc.freeze()
