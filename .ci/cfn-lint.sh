#!/usr/bin/env bash
# cfn-lint on the packaged template, informational checks included: any finding fails.
# Without cfn-lint on the machine it says so and succeeds (CI machines have it).
#   .ci/cfn-lint.sh [TEMPLATE]   default: the package for the current inputs
#                                (node_modules/.cache/ami-factory/package/<hash>/, packaged if needed)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cfn-lint >/dev/null 2>&1; then
  echo "== cfn-lint is not installed: skipping the template lint (pip install cfn-lint to run it)"
  exit 0
fi

template="${1:-}"
if [ -z "$template" ]; then
  dir="$(npx ami-factory package | sed -n 's/^\(packaged\|package is current\): //p' | tail -1)"
  template="${dir:?ami-factory package printed no template}"
fi
echo "== cfn-lint $(cfn-lint --version | sed 's/^cfn-lint //') on $template (informational checks included)"
# cfn-lint exits non-zero on any error, warning or informational finding.
cfn-lint --include-checks I -- "$template"
echo "== cfn-lint: no finding"
