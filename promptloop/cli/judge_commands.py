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


@app.command()
@command
def calibrate(
    prompt: Annotated[str, typer.Argument(metavar="PROMPT", help="The prompt whose llm_judge to measure.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the measurement as JSON.")] = False,
    no_cache: NoCache = False,
) -> None:
    """Run the prompt's judge on the human-labelled outputs and measure how far it agrees with the labels.

    The result (rates, Cohen's kappa, intervals) is kept in golden/labels/PROMPT.yaml with the judge it was
    measured for: a change to the judge's prompt, model or rubric makes it stale. Exit 0, or 2 with no labels.
    """
    from promptloop import codec
    from promptloop.flows.calibrate import calibrate as run_calibrate

    config = repo_config()
    c = run_with_client(config, lambda lm: run_calibrate(config, lm, prompt), no_cache=no_cache)
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
    for x, why in c.disagreements[:20]:
        con.print(f"  [yellow]disagrees[/] {esc(x.case)}: human says {'acceptable' if x.acceptable else 'not'}, "
                  f"the judge: {esc(why)}")
    con.print(f"kept in {esc(str(config.golden_dir / 'labels' / (c.prompt + '.yaml')))}; commit it with the prompt")
