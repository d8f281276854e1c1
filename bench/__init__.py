class BenchFailure(Exception):
    """A benchmark whose run broke a rule (e.g. a 5xx under load): its summary line, marked as failed."""
