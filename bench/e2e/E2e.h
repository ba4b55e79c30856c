// resa-bench e2e (bench/e2e/resa-bench.cpp): end-to-end decode and prefill
// of compiled packages on a CUDA device. argv[1] is "e2e".
#pragma once

namespace resa::bench {

int e2e(int argc, char **argv);

} // namespace resa::bench
