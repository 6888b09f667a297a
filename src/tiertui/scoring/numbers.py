"""Numbers as the contract reads them (spec v2 §3.0), and as a channel manager reads them aloud.

* :func:`round6` is used on both sides of every comparison (gates, maxima, min_score, badge
  minimums, at-risk bands, ``>= target`` caps): 6 decimals, half away from zero, vectorised.
  ``400 * 1.1`` is ``440.00000000000006`` in floating point; rounded, it is 440 exactly.
* :func:`score_text` is the one way to show a score: two decimals, half away from zero, from its
  6-decimal value (2.675 shows as ``2.68``, 49.995 as ``50.00``). The app, the CLI and the exports
  all call it; :func:`score_number` is the same value as a float for JSON.
* :func:`value_text` shows a metric's value with its unit: ``$148,596``, ``1,250``, ``85%``,
  ``yes``/``no`` for a flag, a count for certified people.
* :func:`flag_errors` is the check an import runs on a flag's values (0 or 1 only).
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# numpy is imported inside the array functions: the app formats its first screen's scores with
# score_text before anything has loaded numpy, and a scalar needs none of it.

DECIMALS = 6
_SCALE = 10.0**DECIMALS
# "Exactly half" allows for float noise: a product such as 0.0000005 (really 4.99999999e-07) or
# 2.6749999999999998 must round as the decimal it stands for. Nudging by 2**-49 relative (a few
# ulps) does that, and is far below how close to a tie a decimal with a few places can be.
_NUDGE = 1.0 + 2.0**-49
_EXACT = 2.0**52  # from here on a float (times 1e6) has no fraction left to round

FLAG_UNIT = "yes/no"
CURRENCIES = {"USD": "$", "EUR": "€", "GBP": "£"}
PEOPLE_UNIT = "people"


def round6(x):
    """``x`` (scalar or array) rounded to 6 decimals, half away from zero; NaN stays NaN.

    Vectorised; the result of a scalar is a numpy float64. Equal decimals give equal floats,
    so ``round6(a) >= round6(b)`` compares the 6-decimal values exactly.
    """
    import numpy as np

    if isinstance(x, float | int | np.floating | np.integer):  # one number: no array work (issue 15)
        return np.float64(round6_scalar(float(x)))
    x = np.asarray(x, dtype=np.float64)
    if x.size == 1:  # a scorecard's batch of one: the same arithmetic without numpy's per-call cost
        one = np.float64(round6_scalar(float(x.flat[0])))
        return one if x.ndim == 0 else np.full(x.shape, one)
    scalar = x.ndim == 0
    x = np.atleast_1d(x)
    y = np.abs(x)
    y *= _SCALE
    big = y >= _EXACT
    r = y * _NUDGE
    r += 0.5
    np.floor(r, out=r)
    r /= _SCALE
    np.copysign(r, x, out=r)
    if big.any():
        r = np.where(big, x, r)
    return r[0] if scalar else r


def round6_scalar(x: float) -> float:
    """:func:`round6` of one number, in plain Python: the same float operations, the same result."""
    x = float(x)
    if math.isnan(x):
        return x
    y = abs(x) * _SCALE
    if y >= _EXACT:
        return x
    r = math.floor(y * _NUDGE + 0.5) / _SCALE
    return math.copysign(r, x)


def decimal6(x: float) -> Decimal:
    """The 6-decimal value of ``x`` as an exact :class:`Decimal`."""
    return Decimal(repr(round6_scalar(x))).quantize(Decimal(1).scaleb(-DECIMALS), rounding=ROUND_HALF_UP)


def score_number(x: float) -> float:
    """The score as shown, as a number: two decimals, half away from zero, from its 6-decimal value."""
    return float(decimal6(x).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def score_text(x: float) -> str:
    """The score as every display shows it: ``2.68`` for 2.675, ``50.00`` for 49.995 (§3.0).

    No thousands separator, so the same text serves screens, CSV and XLSX cells alike.
    """
    return f"{decimal6(x).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):.2f}"


def is_flag_unit(unit: str) -> bool:
    return unit.strip().casefold() == FLAG_UNIT


def flag_errors(values) -> np.ndarray:
    """Positions of the values a flag cannot hold (anything but 0 or 1, NaN included).

    An import of a flag metric is rejected when this is not empty (spec §1, flags).
    """
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    return np.flatnonzero(~((v == 0) | (v == 1)))


def _plain(d: Decimal) -> str:
    """A decimal with separators: whole numbers without decimals, else two decimals."""
    if d == d.to_integral_value():
        return f"{d:,.0f}"
    return f"{d:,.2f}"


def _shown(x: float, up: bool) -> Decimal:
    """The 6-decimal value, then two decimals: half away from zero, or up (for an amount needed)."""
    d = decimal6(x)
    if d == d.to_integral_value():
        return d.quantize(Decimal(1))
    return d.quantize(Decimal("0.01"), rounding=ROUND_CEILING if up else ROUND_HALF_UP)


def number_text(x: float, up: bool = False) -> str:
    """A plain number with separators: ``1,250`` / ``87.50``; ``up`` rounds an amount needed upwards."""
    return _plain(_shown(x, up))


def value_text(x: float, unit: str = "", up: bool = False) -> str:
    """A metric's value with its unit, as read out on a call.

    ``USD`` → ``$148,596``; ``%`` → ``85%``; ``yes/no`` → ``yes``/``no``; ``people`` (certified
    people) → a count; any other unit is written after the number (``14 tickets``).
    ``up``: the value is an amount still needed, rounded up so that it surely suffices.
    """
    if is_flag_unit(unit):
        return "yes" if round6_scalar(x) >= 1 else "no"
    d = _shown(x, up)
    sign, d = ("-", -d) if d < 0 else ("", d)
    text = _plain(d)
    unit = unit.strip()
    if unit in CURRENCIES:
        return f"{sign}{CURRENCIES[unit]}{text}"
    if unit == "%":
        return f"{sign}{text}%"
    if not unit or unit == PEOPLE_UNIT:
        return sign + text
    return f"{sign}{text} {unit}"


def about(x: float, whole: bool = False) -> float:
    """An amount needed, rounded up to a figure one says aloud: two significant digits from 100 up
    (543,210 → 550,000), else two decimals; ``whole`` counts (people, deals) round up to integers."""
    x = float(decimal6(x))
    if x <= 0:
        return 0.0
    if whole:
        return float(math.ceil(x - 1e-9))
    if x >= 100:
        step = 10.0 ** (math.floor(math.log10(x)) - 1)
        return float(math.ceil(x / step - 1e-9) * step)
    return float(Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_CEILING))
