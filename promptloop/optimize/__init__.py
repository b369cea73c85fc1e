"""The optimiser: a prompt, its failures and a budget in; a better prompt committed on a branch out.

``candidates`` makes rewrites (demonstrations, format instructions, proposer rewrites); ``search``
scores them in stages under the budget and applies the acceptance rule; ``runlog`` keeps every run;
``publish`` turns the winner into a commit on a new branch.
"""
