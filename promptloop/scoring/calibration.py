"""How far a judge can be trusted: its agreement with human labels (true positive and true negative rates,
Cohen's kappa, each with an interval), the judge it was measured for (a fingerprint of its prompt, model and
rubric: any change makes the measurement stale), the rule that says whether its verdicts may gate, and the
pass rate corrected for its measured errors (Rogan–Gladen). Pure functions, no I/O."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from typing import Any

from promptloop.scoring.significance import Z_95 as Z
from promptloop.scoring.significance import wilson

MIN_KAPPA = 0.4  # below this ("fair" agreement at best) a calibrated judge is still only advisory


def fingerprint(judge_prompt: str, model: str, rubric: Any, threshold: float | None) -> str:
    """What a calibration was measured for: the judge's prompt template, its model and the rubric."""
    key = json.dumps({"prompt": judge_prompt, "model": model, "rubric": rubric, "threshold": threshold},
                     sort_keys=True, ensure_ascii=False)
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass
class Agreement:
    """The judge against the human labels: human-acceptable outputs the judge passed (tp) or failed (fn),
    human-unacceptable ones it failed (tn) or passed (fp)."""

    tp: int
    tn: int
    fp: int
    fn: int

    @property
    def n(self) -> int:
        return self.tp + self.tn + self.fp + self.fn

    @property
    def tpr(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def tnr(self) -> float | None:
        return self.tn / (self.tn + self.fp) if self.tn + self.fp else None

    @property
    def accuracy(self) -> float | None:
        return (self.tp + self.tn) / self.n if self.n else None

    @property
    def kappa(self) -> float | None:
        """Cohen's kappa: agreement beyond what the two raters' base rates give by chance."""
        n = self.n
        if not n:
            return None
        po = (self.tp + self.tn) / n
        pe = ((self.tp + self.fp) * (self.tp + self.fn) + (self.fn + self.tn) * (self.fp + self.tn)) / (n * n)
        return 1.0 if pe == 1 else (po - pe) / (1 - pe)

    def kappa_interval(self) -> tuple[float, float] | None:
        """95% interval of kappa from its large-sample standard error (Cohen 1960)."""
        k, n = self.kappa, self.n
        if k is None or not n:
            return None
        po = (self.tp + self.tn) / n
        pe = ((self.tp + self.fp) * (self.tp + self.fn) + (self.fn + self.tn) * (self.fp + self.tn)) / (n * n)
        if pe == 1:
            return k, k
        se = math.sqrt(po * (1 - po) / (n * (1 - pe) ** 2))
        return max(-1.0, k - Z * se), min(1.0, k + Z * se)

    def summary(self) -> dict[str, Any]:
        return {**asdict(self), "n": self.n, "tpr": self.tpr, "tnr": self.tnr, "kappa": self.kappa,
                "tpr_interval": list(wilson(self.tp, self.tp + self.fn)),
                "tnr_interval": list(wilson(self.tn, self.tn + self.fp)),
                "kappa_interval": list(self.kappa_interval() or (None, None))}


def agreement(pairs: list[tuple[bool, bool]]) -> Agreement:
    """(human says acceptable, judge passed) pairs tallied."""
    return Agreement(tp=sum(h and j for h, j in pairs), tn=sum(not h and not j for h, j in pairs),
                     fp=sum(not h and j for h, j in pairs), fn=sum(h and not j for h, j in pairs))


def trust(calibration: dict[str, Any] | None, current: str, min_kappa: float = MIN_KAPPA) -> str | None:
    """Why the judge's verdicts are only advisory, or None when they may gate: it must have been measured
    against human labels, for the judge as it is now, with kappa at or above ``min_kappa``."""
    if not calibration:
        return "the judge was never calibrated against human labels (`promptloop calibrate PROMPT`)"
    if calibration.get("fingerprint") != current:
        return "the judge's calibration is stale: its prompt, model or rubric changed since it was measured " \
               "(`promptloop calibrate PROMPT` again)"
    kappa = calibration.get("kappa")
    if not isinstance(kappa, (int, float)) or kappa < min_kappa:
        return f"the judge agrees too little with the human labels (kappa {kappa}, floor {min_kappa})"
    return None


def corrected_rate(observed: float, tpr: float, tnr: float) -> float | None:
    """Rogan–Gladen: the true pass rate behind an observed judge pass rate, given the judge's measured rates
    (None when the judge is no better than chance: tpr + tnr <= 1)."""
    if tpr + tnr <= 1:
        return None
    return min(1.0, max(0.0, (observed + tnr - 1) / (tpr + tnr - 1)))
