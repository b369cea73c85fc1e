"""Judges measured before they are trusted: labels, calibrate."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from promptloop.cli.app import app, command, console, esc, repo_config, run_with_client
from promptloop.cli.options import NoCache

labels_app = typer.Typer(help="Human labels of a prompt's outputs (golden/labels/PROMPT.yaml).", no_args_is_help=True)
app.add_typer(labels_app, name="labels")


@labels_app.command("import")
@command
def labels_import(
    prompt: Annotated[str, typer.Argument(metavar="PROMPT", help="The prompt whose outputs were labelled.")],
    file: Annotated[Path, typer.Argument(metavar="FILE", help="CSV (columns case, output, acceptable) or JSONL.")],
) -> None:
    """Add human labels from a CSV or JSONL file to the prompt's labels file (reviewed in git like any change)."""
    from promptloop.repo.labels import add_labels, parse_label_file
    from promptloop.repo.prompts import load_prompt

    config = repo_config()
    name = load_prompt(config, prompt).name
    labels = add_labels(config, name, parse_label_file(file))
    yes = sum(x.acceptable for x in labels.labels)
    console().print(f"{esc(str(labels.path))}: {len(labels.labels)} label(s), {yes} acceptable; "
                    f"measure the judge with `promptloop calibrate {esc(name)}`")


@labels_app.command("add")
@command
def labels_add(
    prompt: Annotated[str, typer.Argument(metavar="PROMPT", help="The prompt whose outputs to label.")],
    limit: Annotated[int | None, typer.Option(min=1, metavar="N", help="At most N outputs.")] = None,
    by: Annotated[str, typer.Option(metavar="NAME", help="Who is labelling (kept with each label).")] = "",
) -> None:
    """Label the prompt's outputs one at a time in the terminal: acceptable (y), not (n), skip (s), quit (q).

    The outputs are the prompt's answers on its golden set as an eval gives them now: those `eval` already
    made come from the cache, so labelling after an eval costs nothing, and the judge is not asked. Each answer
    is saved as you give it.
    """
    from promptloop.flows.calibrate import outputs_to_label
    from promptloop.repo.labels import Label, add_labels
    from promptloop.repo.prompts import load_prompt

    config = repo_config()
    name = load_prompt(config, prompt).name
    todo = run_with_client(config, lambda lm: outputs_to_label(config, lm, name, limit))
    con, added = console(), 0
    for i, r in enumerate(todo, 1):
        con.print(f"\n[bold]{i}/{len(todo)}[/] case {esc(r.case_id)}  input: {esc(str(r.inputs)[:300])}")
        if r.expected is not None:
            con.print(f"expected: {esc(str(r.expected)[:300])}")
        con.print(f"output: {esc(r.output)}")
        answer = typer.prompt("acceptable? [y]es / [n]o / [s]kip / [q]uit", default="s").strip().lower()[:1]
        if answer == "q":
            break
        if answer in ("y", "n"):
            add_labels(config, name, [Label(r.case_id, r.output, answer == "y", by)])
            added += 1
    con.print(f"{added} label(s) added to {esc(str(config.golden_dir / 'labels' / (name + '.yaml')))}"
              + (f" by {esc(by)}" if by else ""))


@app.command()
@command
def calibrate(
    prompt: Annotated[str, typer.Argument(metavar="PROMPT", help="The prompt whose llm_judge to measure.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the measurement as JSON.")] = False,
    judge_repeat: Annotated[int | None, typer.Option(
        "--judge-repeat", min=1, metavar="N",
        help="Ask the judge N times about each labelled output and measure the majority's verdict, as eval and "
             "regress combine them; reports how often its calls split (default: regress.judge_repeats).")] = None,
    no_cache: NoCache = False,
) -> None:
    """Run the prompt's judge on the human-labelled outputs and measure how far it agrees with the labels.

    The result (rates, Cohen's kappa, intervals) is kept in golden/labels/PROMPT.yaml with the judge it was
    measured for: a change to the judge's prompt, model or rubric makes it stale. Exit 0, or 2 with no labels.
    """
    from promptloop import codec
    from promptloop.flows.calibrate import calibrate as run_calibrate

    config = repo_config()
    c = run_with_client(config, lambda lm: run_calibrate(config, lm, prompt, judge_repeat), no_cache=no_cache)
    if as_json:
        sys.stdout.write(codec.dumps({**c.record, "disagreements": [
            {"case": x.case, "output": x.output, "acceptable": x.acceptable, "judge": why}
            for x, why in c.disagreements]}, indent=True) + "\n")
        return
    r, con = c.record, console()

    def rate(name: str) -> str:
        low, high = r[f"{name}_interval"]
        return "–" if r[name] is None else f"{r[name]:.2f} [{low:.2f}, {high:.2f}]"

    con.print(f"judge {esc(c.judge_model)} on {r['n']} labelled output(s) of {esc(c.prompt)}: "
              f"agrees on {r['tp'] + r['tn']}; true positive rate {rate('tpr')}, true negative rate {rate('tnr')}, "
              f"kappa {rate('kappa')}")
    if r.get("judge_repeats"):
        con.print(f"each verdict the majority of {r['judge_repeats']} judge calls; they split on {r['split']} of "
                  f"{r['n']} output(s)")
    for x, why in c.disagreements[:20]:
        con.print(f"  [yellow]disagrees[/] {esc(x.case)}: human says {'acceptable' if x.acceptable else 'not'}, "
                  f"the judge: {esc(why)}")
    con.print(f"kept in {esc(str(config.golden_dir / 'labels' / (c.prompt + '.yaml')))}; commit it with the prompt")
