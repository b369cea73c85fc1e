"""The optimiser's search: failures in, candidates scored under a budget, an ``Outcome`` out.

Flow: baseline on the golden set -> failures split into shown / held-out -> on the embedded model, the choices
read after a lead and calibrated there -> cross-validated demonstrations -> rounds of candidates (data-built
few-shot and format variants, proposer rewrites, a calibration of the round's best) -> guards -> staged
evaluation (a slice with the failures first, early stop, then the full set) -> acceptance (fixes held-out
failures, no critical regression, no aggregate drop beyond noise).
The use case around it (traces as extra failures, the run log, the commit) is ``flows/optimize.py``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from promptloop.errors import BudgetExceeded, TransientModelError
from promptloop.model.client import ModelClient, Request
from promptloop.model.embedded import is_embedded
from promptloop.optimize import calibration
from promptloop.optimize.acceptance import (
    accept,
    choose,
    held_out_evidence,
    held_out_test_ids,
    mean,
    per_call_usage,
    resolution,
    split_failures,
)
from promptloop.optimize.candidates import (
    Candidate,
    constrained_variant,
    degenerate,
    fewshot_variants,
    format_variant,
    guard,
    inherit,
    meta_messages,
    parse_proposals,
    proposal_format,
    text_of,
)
from promptloop.optimize.events import Baseline, CandidateScored, Estimate, Note, Round, Stage, Watcher
from promptloop.optimize.outcome import Options, Outcome, Plan, Scored
from promptloop.optimize.race import cross_validate
from promptloop.optimize.state import SearchState
from promptloop.repo.config import Config, ModelRef
from promptloop.repo.prompts import Case, GoldenSet, Prompt
from promptloop.scoring.evaluate import CaseResult, run_cases, task_model
from promptloop.scoring.judge_trust import judge_advisory, unsettled, without_judge
from promptloop.scoring.metrics import per_case_rates, summarise
from promptloop.scoring.significance import pair


class Optimizer:
    def __init__(self, config: Config, prompt: Prompt, golden: GoldenSet, client: ModelClient,
                 options: Options, *, extra_failures: list[Case] | None = None,
                 on_event: Watcher | None = None) -> None:
        self.config, self.prompt, self.golden, self.client, self.o = config, prompt, golden, client, options
        self.model: ModelRef = task_model(prompt, config)
        self.proposer: ModelRef = config.model("proposer")
        self.judge: ModelRef = config.model("judge")
        self.extra = extra_failures or []
        self.emit: Watcher = on_event or (lambda event: None)
        # The prompt's own demonstrations are never scored against it (see Candidate.demos).
        cases = {c.id: c for c in [*golden.cases, *self.extra] if c.id not in set(prompt.example_ids)}
        # A test part that neither demonstrations nor acceptance ever touch: the winner's honest score.
        self.test_ids = held_out_test_ids(list(cases), options.seed)
        self.cases = {i: c for i, c in cases.items() if i not in set(self.test_ids)}
        self.proposer_strikes = 0  # rounds in a row whose proposals were all unusable
        # A judge never measured against human labels (or stale, or agreeing too little) decides nothing here,
        # as in the gate: cases are judged on their other checks.
        self.judge_advisory = judge_advisory(config, prompt)
        self.base_unsettled: set[str] = set()  # cases whose baseline judge verdict split (--judge-repeat)
        self.proposer_lineage = False  # the incumbent's text was written by a proposer that saw the shown failures
        # Each scored candidate's choice scores per case, where the model gives them (a calibration is fitted on them).
        self.label_scores: dict[str, dict[str, dict[str, float]]] = {}

    # ------------------------------------------------------------ planning
    def plan(self, baseline_rates: dict[str, float] | None = None) -> Plan:
        failing = [cid for cid, r in (baseline_rates or {}).items() if r < 0.5]
        shown, held = split_failures(failing, self.o.seed)
        n = len(self.cases)
        per_round = 1 + self.o.candidates * n * self.o.repeat
        calls = n * self.o.repeat + self.o.rounds * per_round
        chars = sum(len(text_of(m)) for m in self.prompt.messages) + 200
        return Plan(n, len(failing), shown, held, calls, calls * chars // 4, resolution(n, self.o.alpha))

    async def _score(self, prompt: Prompt, ids: list[str], cases: dict[str, Case] | None = None) -> list[CaseResult]:
        results = await run_cases(prompt, [(cases or self.cases)[i] for i in ids], self.client, model=self.model,
                                  judge=self.judge, root=self.config.root, repeat=self.o.repeat,
                                  judge_repeat=self.o.judge_repeat)
        if self.judge_advisory:
            without_judge(results)
        return results

    # ------------------------------------------------------------ the loop
    async def run(self, dry_run: bool = False) -> Outcome:
        if dry_run:
            return Outcome(self.prompt.name, "dry-run", self.plan())
        estimate = self.plan()
        self.emit(Estimate(estimate.estimate_calls, estimate.estimate_tokens, estimate.cases))
        self.emit(Stage("baseline"))
        try:
            base_results = await self._baseline()
        except BudgetExceeded as e:
            return Outcome(self.prompt.name, "no-improvement", self.plan(), stop_reason=f"{e} during the baseline",
                           usage=self._usage())
        base_rates = per_case_rates(base_results)
        plan = self.plan(base_rates)
        out = Outcome(self.prompt.name, "no-improvement", plan, baseline_rate=mean(list(base_rates.values())),
                      baseline_metrics=summarise(base_results).measured)
        out.baseline_messages, out.baseline_output = self.prompt.messages, self.prompt.output
        out.baseline_tools = self.prompt.tools or None
        self.emit(Baseline(out.baseline_rate, plan.failures, plan.log(), self.prompt.messages, self.prompt.output,
                           out.baseline_tools))
        if not plan.failures:
            out.status, out.stop_reason, out.usage = "nothing-to-fix", "every case already passes", self._usage()
            return out
        try:
            st = SearchState.start(self.prompt, self.cases, self.o.slice_size, base_results, plan)
            self._keep_scores(st.incumbent.id, base_results)
            await self._search(out, st)
        except BudgetExceeded as e:
            out.stop_reason = str(e)
        if out.winner:
            await self._finish(out, base_results)
        out.usage = self._usage()
        return out

    async def _baseline(self) -> list[CaseResult]:
        """The current prompt on every case; cases whose calls failed are left out of the search."""
        if self.judge_advisory:
            self.emit(Note(f"llm_judge is advisory ({self.judge_advisory}): candidates are judged on the other "
                           "checks; calibrate it to let it count"))
        base_results = await self._score(self.prompt, list(self.cases))
        self.base_unsettled = unsettled(base_results)
        errored = sorted({r.case_id for r in base_results if r.error} - set(per_case_rates(base_results)))
        if errored and len(errored) == len(self.cases):
            first = next(r.error for r in base_results if r.error)
            raise TransientModelError(f"every baseline call failed, so there is nothing to optimise against: {first}")
        if errored:
            # A case the model never answered can be neither a failure to fix nor a regression to avoid.
            self.emit(Note(f"{len(errored)} case(s) left out: their baseline calls failed "
                           f"({', '.join(errored[:5])})"))
            for cid in errored:
                self.cases.pop(cid, None)
        return [r for r in base_results if r.case_id in self.cases]

    async def _search(self, out: Outcome, st: SearchState) -> None:
        """The lead's calibration, the demonstration race, then rounds of candidates until the target, stagnation
        or the last round."""
        lead = await self._lead_twin(st.incumbent)
        if lead is not None:
            await self._consider(lead, st, out)
        raced = await self._race(st.incumbent, st.demo_pool, st.plan, st.incumbent_rates)
        if raced is not None:  # after the lead's calibration, it must be significantly better to win
            await self._consider(raced, st, out)
        stale = 0
        for rnd in range(self.o.rounds):
            out.rounds = rnd + 1
            self.emit(Round(rnd + 1, self.o.rounds))
            improved, first = False, len(out.candidates)
            for cand in await self._candidates(rnd, st.incumbent, st.demo_pool, st.shown_failures, st.history, out):
                improved |= await self._consider(cand, st, out)
            # The round's best is tried calibrated too (fitted on its own scores, so the fit costs no call):
            # demonstrations in particular shift a small model's lean to one answer.
            twin = calibration.round_twin(out.candidates[first:], self.prompt, self.model.name, self.label_scores,
                                          self.cases, {c.candidate.id for c in out.candidates})
            if twin:
                improved |= await self._consider(twin, st, out)
            if out.winner and self.o.target is not None and (out.winner.full_rate or 0) >= self.o.target:
                out.stop_reason = f"target {self.o.target:g} reached"
                return
            if out.winner and (out.winner.full_rate or 0) >= 1.0:
                out.stop_reason = "every case passes: nothing left to improve"
                return
            stale = 0 if improved else stale + 1
            # Stagnation ends the search only once half the call budget is spent: a few unlucky rounds
            # must not leave most of what the user granted unused while rounds remain.
            if stale >= self.o.patience and not self._mostly_unspent():
                out.stop_reason = f"{stale} round(s) without improvement"
                return
        out.stop_reason = f"{self.o.rounds} round(s) done"

    async def _consider(self, cand: Candidate, st: SearchState, out: Outcome) -> bool:
        """Score ``cand``; True when it becomes the winner."""
        scored = await self._judge(cand, st, out)
        st.history.append({"score": scored.full_rate if scored.full_rate is not None
                           else scored.slice_rate or 0.0, "rationale": cand.rationale})
        improved = False
        if scored.status == "accepted":
            rule = choose(scored, out.winner, self.o.prefer_cheaper, self.o.alpha)
            if rule:
                out.winner, st.incumbent, st.incumbent_rates = scored, cand, scored.rates
                out.rule, improved = rule, True
                self.proposer_lineage |= cand.origin == "proposer"
            else:
                assert out.winner is not None  # choose() takes any first accepted candidate
                best, mine = out.winner.full_rate or 0, scored.full_rate or 0
                scored.reason += (f"; but not significantly better than the best so far ({best:.2f}), "
                                  "which stays" if mine > best else
                                  f"; but no better than the best so far ({best:.2f})" if mine == best
                                  else f"; but below the best so far ({best:.2f})")
        self._tell(scored)
        return improved

    async def _lead_twin(self, base: Candidate) -> Candidate | None:
        """``base`` with the embedded model's choices read after a lead and a bias fitted under it, the likeliest
        of the leads a third of the budget reads: each costs one pass over the cases, its calibration none."""
        ids = [i for i in self.cases if i not in base.demos]  # its own demonstrations are never scored
        leads = calibration.affordable_leads(self.o.calls, len(ids)) if len(self.cases) >= calibration.MIN_INPUTS \
            and is_embedded(self.model.name) else ()  # a hosted model is never sent a lead; too few cases fit no bias
        probes = [p for lead in leads if (p := calibration.lead_probe(base, self.prompt, self.model.name, lead))]
        if probes:
            self.emit(Note(f"reading the choices after each of {', '.join(map(repr, leads))} on {len(ids)} cases, "
                           "to fit a calibration under the likeliest"))
        for probe in probes:
            self._keep_scores(probe.id, await self._score(probe.prompt(self.prompt), ids))
        kept = calibration.likeliest_reading(probes, self.prompt, self.model.name, self.label_scores, self.cases)
        if kept:
            self.emit(Note(kept[1]))
        return kept[0] if kept else None

    async def _judge(self, cand: Candidate, st: SearchState, out: Outcome) -> Scored:
        """Score one candidate and record it in the outcome."""
        scored = await self._evaluate(cand, st.incumbent_rates, st.base_rates, st.slice_ids, st.plan)
        out.candidates.append(scored)
        out.model_errors += scored.status == "error"
        return scored

    def _tell(self, scored: Scored) -> None:
        self.emit(CandidateScored(scored.log(), self._usage()))

    async def _finish(self, out: Outcome, base_results: list[CaseResult]) -> None:
        """The winner's metrics beside the baseline's on the same cases, and both on the held-out test part."""
        assert out.winner is not None
        out.status = "improved"
        win_prompt = out.winner.candidate.prompt(self.prompt)
        # Both sides on the same cases: the winner's own demonstrations are not scored.
        evaluable = [i for i in self.cases if i not in out.winner.candidate.demos]
        out.baseline_metrics = summarise([r for r in base_results if r.case_id in evaluable]).measured
        # Reported beside the winner's rate: the same cases on both sides, everywhere (commit, runs, terminal).
        out.baseline_rate = mean([r for i, r in per_case_rates(base_results).items() if i in evaluable])
        out.compared_cases = len(evaluable)
        try:
            out.winner_metrics = summarise(await self._score(win_prompt, evaluable)).measured
        except BudgetExceeded:  # every one of these is cached already; kept for safety
            pass
        if not self.test_ids:
            return
        try:
            before, after = await self._rates(self.prompt, self.test_ids), await self._rates(win_prompt, self.test_ids)
            out.test_rates = (mean(list(before.values())), mean(list(after.values())))
            out.test_evidence = held_out_evidence(before, after, self.o.alpha)
            self.emit(Note(f"held-out test part ({len(self.test_ids)} cases, never used to choose): "
                           f"{out.test_rates[0]:.2f} -> {out.test_rates[1]:.2f}; {out.test_evidence['verdict']}"))
        except BudgetExceeded:
            self.emit(Note("no budget left to score the held-out test part"))

    async def _rates(self, prompt: Prompt, ids: list[str]) -> dict[str, float]:
        r = per_case_rates(await self._score(prompt, ids, {c.id: c for c in self.golden.cases}))
        return {i: r[i] for i in ids if i in r}

    async def _race(self, base: Candidate, pool: list[Case], plan: Plan,
                    incumbent: dict[str, float]) -> Candidate | None:
        """Demonstrations chosen by cross-validation (see ``optimize/race.py``), for the full evaluation."""
        order = sorted((i for i in self.cases if i not in plan.heldout),
                       key=lambda i: hashlib.sha256(f"{self.o.seed}:{i}".encode()).hexdigest())

        async def score(c: Candidate, ids: list[str]) -> dict[str, float]:
            return per_case_rates(await self._score(c.prompt(self.prompt), ids))

        return await cross_validate(base, self.prompt, pool, order, score, incumbent, seed=self.o.seed,
                                    alpha=self.o.alpha, emit=self.emit)

    async def _candidates(self, rnd: int, base: Candidate, pool: list[Case], failures: list[dict[str, Any]],
                          history: list[dict[str, Any]], outcome: Outcome) -> list[Candidate]:
        out: list[Candidate] = []
        wanted = max(1, self.o.candidates // 2)
        # The format instruction on whatever leads now: a demonstration set that won a round gets it too.
        fmt = format_variant(base.messages, self.prompt, base.id, base.demos)
        if fmt and fmt.id not in {c.candidate.id for c in outcome.candidates}:
            out.append(fmt)
        labels = next((a.value for a in self.prompt.assertions if a.type == "label" and a.value), None)
        k = len(labels) if labels else 3
        unused = [c for c in pool if c.id not in base.demos]
        room = max(0, self.o.candidates - wanted - len(out))
        if self.proposer_strikes >= 2:
            # The proposer keeps failing: its share of the budget goes to data-built candidates.
            room, wanted = max(0, self.o.candidates - len(out)), 0
        out += fewshot_variants(base, self.prompt, unused, [k, 2 * k, 4 * k], seed=self.o.seed + rnd)[:room]
        constrained = constrained_variant(base, self.prompt) if rnd == 0 else None
        if constrained:  # one extra, cheap and often decisive for small models: not counted against the others
            out.append(constrained)
        calibrated = calibration.calibrated_variant(base, self.prompt, self.model.name, self.label_scores.get(base.id),
                                                    self.cases)
        if calibrated and calibrated.id not in {c.candidate.id for c in outcome.candidates}:
            out.append(calibrated)  # one extra too: it costs no proposer call and its fit reads no label
        if not wanted:
            self.emit(Note(f"round {rnd + 1}: the proposer is skipped after repeated unusable replies"))
            unique_only: dict[str, Candidate] = {}
            for c in out:
                c = inherit(c, base)
                unique_only.setdefault(c.id, c)
            return list(unique_only.values())
        tools = (base.tools or self.prompt.tools) if self.o.rewrite_tool_descriptions else None
        req = Request(model=self.proposer.name, api_base=self.proposer.api_base,
                      messages=meta_messages(base.messages, self.prompt, failures, history, wanted,
                                             tools=base.tools, rewrite_tools=bool(tools)),
                      params={"temperature": 0.8, "max_tokens": 800 + 200 * len(tools or []),
                              "seed": self.o.seed + rnd,
                              "response_format": proposal_format(wanted, [t["function"]["name"] for t in tools or []])},
                      sample=rnd, purpose="proposer")
        try:
            reply = await self.client.complete(req)
            proposals = parse_proposals(reply.text, base.messages, base.id, base.demos, tools=tools)
            usable = [p for p in proposals if degenerate(p, self.prompt) is None]
            self.proposer_strikes = 0 if usable else self.proposer_strikes + 1
            if not proposals:
                self.emit(Note(f"round {rnd + 1}: the proposer's reply held no usable candidate"))
            out += proposals[:wanted]
        except TransientModelError as e:
            outcome.model_errors += 1
            self.proposer_strikes += 1
            self.emit(Note(f"round {rnd + 1}: proposer call failed: {e}"))
        unique: dict[str, Candidate] = {}
        for c in out:
            c = inherit(c, base)  # built on the incumbent: its output and tool descriptions stay
            unique.setdefault(c.id, c)
        return list(unique.values())

    async def _evaluate(self, cand: Candidate, incumbent: dict[str, float], base: dict[str, float],
                        slice_ids: list[str], plan: Plan) -> Scored:
        s = Scored(cand)
        protected = [c for c in self.cases.values() if c.id not in cand.demos]
        why = guard(cand, self.prompt, protected, self.o.max_chars, self.o.rewrite_tool_descriptions)
        if why:
            s.status, s.reason = "rejected", why
            return s
        cand_prompt = cand.prompt(self.prompt)
        evaluable = [i for i in self.cases if i not in cand.demos]
        slice_eval = [i for i in slice_ids if i in evaluable]
        if slice_eval:
            slice_results = await self._score(cand_prompt, slice_eval)
            if self._errored(s, slice_results):
                return s
            r = per_case_rates(slice_results)
            s.slice_rate = mean([r[i] for i in slice_eval])
            # The incumbent's own demonstrations have no score under it: compare on the cases both have.
            common = [i for i in slice_eval if i in incumbent]
            inc = mean([incumbent[i] for i in common])
            s.slice_rate = mean([r[i] for i in common]) if common else s.slice_rate
            if s.slice_rate < inc:
                s.status = "stopped-early"
                s.reason = f"worse than the incumbent on the slice ({s.slice_rate:.2f} < {inc:.2f})"
                return s
        full_results = await self._score(cand_prompt, evaluable)
        if self._errored(s, full_results):
            return s
        self._keep_scores(cand.id, full_results)
        s.rates = per_case_rates(full_results)
        s.tokens_per_call, s.cost_per_call = per_call_usage(full_results)
        s.full_rate = mean([s.rates[i] for i in evaluable])
        s.paired = pair({i: base[i] for i in evaluable}, s.rates,
                        unsettled=self.base_unsettled | unsettled(full_results))
        # The held-out failures guard against a proposer fitting the failures it was shown; a candidate built from
        # data alone, on a prompt no proposer wrote, saw none of them: every failure it fixes counts.
        saw = cand.origin == "proposer" or self.proposer_lineage
        failures = ([i for i in plan.heldout if i in evaluable] or [i for i in plan.shown if i in evaluable]) if saw \
            else [i for i in [*plan.shown, *plan.heldout] if i in evaluable]
        s.fixed_failures = [i for i in failures if s.rates.get(i, 0) >= 0.5 and i not in s.paired.noisy]
        critical = [i for i in s.paired.regressed if self.cases[i].critical]
        base_rate = mean([base[i] for i in evaluable])
        s.status, s.reason = accept(s.full_rate, base_rate, s.paired, s.fixed_failures, critical,
                                    alpha=self.o.alpha, tolerance=self.o.tolerance, held_out=saw)
        return s

    def _keep_scores(self, candidate_id: str, results: list[CaseResult]) -> None:
        scores = {r.case_id: r.label_scores for r in results if r.label_scores and r.sample == 0}
        if scores:
            self.label_scores[candidate_id] = scores

    def _mostly_unspent(self) -> bool:
        return self.o.calls is not None and self.client.usage.calls < self.o.calls / 2

    @staticmethod
    def _errored(s: Scored, results: list[CaseResult]) -> bool:
        """A candidate whose calls failed cannot be judged: it is set aside, never accepted."""
        errors = [r.error for r in results if r.error]
        if errors:
            s.status, s.reason = "error", f"{len(errors)} call(s) failed, so it cannot be judged: {errors[0]}"
        return bool(errors)

    def _usage(self) -> dict[str, Any]:
        u = self.client.usage
        return {"calls": u.calls, "cached": u.cached, "tokens": u.tokens, "cost_usd": round(u.cost_usd, 6),
                "by_purpose": dict(u.by_purpose), "limit_calls": self.o.calls, "limit_usd": self.o.usd}

