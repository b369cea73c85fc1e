#!/usr/bin/env bash
# The whole loop on the embedded model, offline: an app records traces with feedback, they are imported,
# the failures become golden cases, optimize proposes a better prompt on a branch, and regress gates it.
#   bash examples/app_loop/run.sh [WORKDIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-$(mktemp -d)}"
repo="$work/prompts-repo"
ok_or_1() { "$@" || { code=$?; [ "$code" -eq 1 ] || exit "$code"; }; }

promptloop init "$repo" >/dev/null
cd "$repo"
git init -q -b main && git config user.name demo && git config user.email demo@example.com
git add -A && git commit -qm "prompt repo"

python "$here/app.py" "$repo" "$work/traces.jsonl"               # 1. the app runs and records
promptloop import "$work/traces.jsonl"                             # 2. traces in, matched by exact version
promptloop traces sentiment --failed                               # 3. what went wrong
ok_or_1 promptloop golden add sentiment --from-traces --failed     # 4. failures become golden cases
git add golden && git commit -qm "cases from production" || true
ok_or_1 promptloop optimize sentiment --budget-calls 60 --rounds 1   # 5. a better prompt, on a branch
branch="$(git branch --list 'promptloop/*' --format='%(refname:short)' | head -1)"
if [ -n "$branch" ]; then git checkout -q "$branch"; fi
ok_or_1 promptloop regress --base main                            # 6. the CI gate on that change
echo "loop done in $repo"
