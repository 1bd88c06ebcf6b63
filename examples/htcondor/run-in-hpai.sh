#!/bin/bash
# HTCondor's executable: run ARGS in IMAGE with the job's scratch directory as /srv
# (the osg-glideinwms profile in recipes/ binds CVMFS and sets the grid environment).
# Usage: run-in-hpai.sh IMAGE CMD [ARG...]
set -euo pipefail
HPAI_RUN=${HPAI_RUN:-hpai-run}
image=$1
shift
exec "$HPAI_RUN" -b "${_CONDOR_SCRATCH_DIR:-$PWD}:/srv" -c /srv "$image" -- "$@"
