// hpai-run --pull: an image reference storage lacks is fetched first, by the
// hpai-image beside this hpai-run (so hpai-run itself loads no HTTP or TLS library on
// the launch path). Only when asked: compute nodes often can't reach a registry, and a
// job's thousands of ranks must not each ask one.
#pragma once

#include "hpai/run/plan.hpp"

namespace hpai {

// Runs `hpai-image [-s STORAGE] pull IMAGE` unless IMAGE is found (as locate_image
// finds images); Error when the pull fails (its own messages went to stderr).
void pull_if_missing(const RunOptions& options, const HostContext& host);

}  // namespace hpai
