// Placing the plan's mounts: each target resolved inside the image (its symlinks
// followed as in the container) and checked against the mounts before it.
#pragma once

#include "hpai/image/image_fs.hpp"
#include "hpai/run/plan.hpp"

namespace hpai {

// Checks every mount of PLAN against IMAGE and the mounts before it, drops those marked
// optional that can't be placed (with a note), and adds the skeleton layer's mount
// points for a read-only image (WRITABLE false). Error for a mount that can't be placed.
void place_mounts(Plan& plan, const ImageFs& image, bool writable);

}  // namespace hpai
