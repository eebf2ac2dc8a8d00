"""Sweep early-termination policies, applied as Azure ML applies them.

Each time a trial logs the primary metric counts as one interval. From interval
``delay_evaluation`` on, every ``evaluation_interval`` intervals, a trial is compared
with the other trials at the same interval:

- bandit: stop it when its value is not within ``slack_factor`` (a ratio) or
  ``slack_amount`` (an absolute difference) of the best value;
- median stopping: stop it when its best value so far is worse than the median of
  the other trials' running averages;
- truncation selection: stop it when it is in the lowest ``truncation_percentage``
  percent of the trials at that interval.
"""

from __future__ import annotations

import statistics
from typing import Any


def _due(settings: dict[str, Any], interval: int) -> bool:
    delay = int(settings.get("delay_evaluation") or 0)
    every = max(1, int(settings.get("evaluation_interval") or 1))
    return interval > delay and (interval - delay) % every == 0


def should_stop(
    settings: dict[str, Any],
    trial: int,
    histories: dict[int, list[float]],
    maximize: bool,
) -> str:
    """Why ``trial`` should stop now ('' to let it run); ``histories``: trial -> metric values.

    Every due interval the trial has reached is checked, so a trial that runs ahead of
    the others is still compared with them at that interval once they get there.
    """
    own = histories.get(trial) or []
    for interval in range(1, len(own) + 1):
        reason = _check(settings, trial, histories, maximize, interval)
        if reason:
            return reason
    return ""


def _check(
    settings: dict[str, Any],
    trial: int,
    histories: dict[int, list[float]],
    maximize: bool,
    interval: int,
) -> str:
    kind = str(settings.get("type") or "").lower()
    own = (histories.get(trial) or [])[:interval]
    if not kind or not _due(settings, interval):
        return ""
    sign = 1.0 if maximize else -1.0
    others = {t: h for t, h in histories.items() if t != trial and len(h) >= interval}
    if not others:
        return ""
    value = sign * own[interval - 1]
    if kind == "bandit":
        best = max(sign * h[interval - 1] for h in [own, *others.values()])
        factor, amount = settings.get("slack_factor"), settings.get("slack_amount")
        if factor:
            limit = best / (1 + float(factor)) if best >= 0 else best * (1 + float(factor))
        elif amount is not None:
            limit = best - float(amount)
        else:
            return ""
        if value < limit:
            return f"bandit: {sign * value:.4g} is outside the slack of the best {sign * best:.4g}"
    elif kind == "median_stopping":
        best_so_far = max(sign * v for v in own)
        averages = [statistics.fmean(sign * v for v in h[:interval]) for h in others.values()]
        median = statistics.median(averages)
        if best_so_far < median:
            return f"median stopping: best {sign * best_so_far:.4g} is below the median"
    elif kind == "truncation_selection":
        percentage = float(settings.get("truncation_percentage") or 0)
        values = sorted([value, *(sign * h[interval - 1] for h in others.values())])
        cut = int(len(values) * percentage / 100)
        if cut and value < values[cut] and value in values[:cut]:
            return f"truncation selection: in the lowest {percentage:g}% at interval {interval}"
    return ""
