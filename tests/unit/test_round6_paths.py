"""round6 of one value (the scorecard's batch of one) equals round6 of the same value in an array."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tiertui.scoring.numbers import round6

TIES = [2.675, 0.0000005, -2.6749999999999998, 49.995, 440.0000005, -0.0, 0.0, 2.0**52, -(2.0**53) + 0.5]


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(TIES), min_size=1, max_size=20))
def test_one_value_rounds_as_in_an_array(values):
    many = round6(np.array([*values, 1.0]))[:-1]  # more than one element: the array path
    for v, expected in zip(values, many):
        for got in (round6(v), round6(np.float64(v)), round6(np.array([v]))[0], round6(np.array(v))):
            assert (np.isnan(got) and np.isnan(expected)) or (
                got == expected and np.signbit(got) == np.signbit(expected)
            )
