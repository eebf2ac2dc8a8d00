"""The feature rules, shared by the Spark step and its pandas path.

Both engines compute the same column statistics and call `derived_columns` to decide what
to add, so a rule is written once. `engineer_pandas` is the pandas path: the reference the
Spark step is tested against, and a way to compute the features without Java or Spark.

The rules, in order:
1. rows without a target are dropped, then exact duplicate rows (the first one is kept);
2. a missing feature value becomes its column's mean;
3. every non-negative feature column whose skewness (population, as Spark's `skewness`)
   exceeds the threshold gets a `log1p_<column>` companion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

LOG_PREFIX = "log1p_"


@dataclass(frozen=True)
class ColumnStats:
    minimum: float
    skewness: float | None  # None when the column is constant


def derived_columns(stats: dict[str, ColumnStats], threshold: float) -> list[str]:
    """The feature columns that get a log1p companion, in the order of `stats`."""
    return [
        name
        for name, column in stats.items()
        if column.minimum >= 0.0
        and column.skewness is not None
        and not math.isnan(column.skewness)
        and abs(column.skewness) > threshold
    ]


def feature_columns(columns: list[str], target_column: str) -> list[str]:
    if target_column not in columns:
        raise ValueError(f"target column {target_column!r} not in {columns}")
    return [name for name in columns if name != target_column]


def engineer_pandas(frame: Any, target_column: str, skew_threshold: float) -> Any:
    """The features of a pandas frame of raw rows, by the rules above."""
    import numpy as np

    features = feature_columns(list(frame.columns), target_column)
    frame = frame.dropna(subset=[target_column]).drop_duplicates().reset_index(drop=True)
    frame[features] = frame[features].astype("float64")
    frame[features] = frame[features].fillna(frame[features].mean())
    stats = {}
    for name in features:
        values = frame[name].to_numpy()
        centred = values - values.mean()
        m2, m3 = (centred**2).mean(), (centred**3).mean()
        stats[name] = ColumnStats(float(values.min()), float(m3 / m2**1.5) if m2 > 0 else None)
    for name in derived_columns(stats, skew_threshold):
        frame[LOG_PREFIX + name] = np.log1p(frame[name])
    return frame
