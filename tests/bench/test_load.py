"""The load benchmark's arithmetic (the benchmark itself is never run by the suite)."""

import math

from bench.load import Figures, Sample, figures, figures_by_operation, percentile


def test_percentile_interpolates_between_the_closest_ranks():
    values = [float(v) for v in range(100, 0, -1)]  # 100 .. 1, unsorted on purpose

    assert percentile(values, 50) == 50.5
    assert math.isclose(percentile(values, 99), 99.01)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))


def test_figures_count_errors_and_server_errors_apart():
    samples = [
        Sample("quote", 200, 10.0, 1024),
        Sample("quote", 200, 20.0, 1024),
        Sample("ship", 201, 30.0, 1024),
        Sample("ship", 409, 40.0, 0),
        Sample("ship", 503, 50.0, 0),
        Sample("ship", 0, 60.0, 0),  # no answer
    ]

    assert figures(samples, seconds=2.0) == Figures(
        requests=6, per_second=3.0, p50=35.0, p99=59.5, errors=3, server_errors=1, mean_kb=0.5
    )
    assert figures(samples, seconds=2.0).error_rate == 0.5
    by_operation = figures_by_operation(samples, seconds=2.0)
    assert list(by_operation) == ["quote", "ship"]
    assert by_operation["quote"] == Figures(
        requests=2, per_second=1.0, p50=15.0, p99=19.9, errors=0, server_errors=0, mean_kb=1.0
    )
    assert (by_operation["ship"].requests, by_operation["ship"].errors, by_operation["ship"].server_errors) == (4, 3, 1)
