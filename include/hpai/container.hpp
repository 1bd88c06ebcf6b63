// Carries out a Plan: namespaces, the image root, every mount, pivot_root, exec.
// One flat, checked sequence (read it top to bottom in container.cpp).
#pragma once

#include "hpai/plan.hpp"

namespace hpai {

// Never returns: it execs the payload, or throws Error.
[[noreturn]] void run_container(const Plan& plan);

}  // namespace hpai
