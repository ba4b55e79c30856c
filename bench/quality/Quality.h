// resa-bench quality (bench/quality/Quality.cpp): answer accuracy of compiled
// packages on held-out task problems. argv[1] is "quality".
#pragma once

namespace resa::bench {

int quality(int argc, char **argv);

} // namespace resa::bench
