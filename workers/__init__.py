"""RQ adapters: the Redis connection, enqueueing, jobs and the worker. Thin over review/."""
