// hpai-run --pull: an image reference storage lacks is fetched first, by the
// hpai-image beside this hpai-run (so hpai-run itself loads no HTTP or TLS library on
// the launch path). Only when asked: compute nodes often can't reach a registry, and a
// job's thousands of ranks must not each ask one.
#pragma once

#include "hpai/run/plan.hpp"

namespace hpai {

// Runs `hpai-image [-s STORAGE] pull IMAGE` unless IMAGE is found (as locate_image
// finds images), under the name's pull lock (the first rank of a node pulls, the others
// wait and find it); Error when the pull fails (its own messages went to stderr). An
// IMAGE that reads as a file (a path, FILE.sqfs, a directory here) is never pulled: a
// missing file must not turn into a Docker Hub image of that name. With DRY_RUN nothing
// is fetched; returns whether a pull is (or would be) needed.
bool pull_if_missing(const RunOptions& options, const HostContext& host, bool dry_run);

}  // namespace hpai
