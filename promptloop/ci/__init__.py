"""CI integrations: a gate's report out to where reviewers look (GitHub annotations and a PR comment).

In: a regress report and the CI's environment. Out: annotation lines and one PR comment, kept up to date.
"""
