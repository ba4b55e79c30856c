// resa-bench: benchmarks, one subcommand each.
//   quality  answer accuracy on held-out task problems (every build)
//   e2e      end-to-end decode and prefill speed on a CUDA device (CUDA builds)
//   kernels  the CUDA decode attention kernels (CUDA builds)
#include "quality/Quality.h"
#ifdef RESA_BENCH_CUDA
#include "KernelsBench.h"
#include "e2e/E2e.h"
#endif

#include <cstdio>
#include <string>

namespace {

const char *kUsage = "usage: resa-bench COMMAND [options]   (resa-bench COMMAND --help)\n"
                     "\n"
                     "  quality  answer accuracy of dense, sparse and ReSA packages on held-out\n"
                     "           problems: greedy, pass@1, majority, best-of-N and GSR\n"
                     "  e2e      decode and prefill speed on a CUDA device (CUDA builds only)\n"
                     "  kernels  the CUDA decode attention and ReSA step against the copy\n"
                     "           ceiling (CUDA builds only)\n";

} // namespace

int main(int argc, char **argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  if (command == "quality")
    return resa::bench::quality(argc, argv);
  if (command == "e2e" || command == "kernels") {
#ifdef RESA_BENCH_CUDA
    return command == "e2e" ? resa::bench::e2e(argc, argv)
                            : resa::bench::kernels(argc - 1, argv + 1);
#else
    std::fprintf(stderr, "resa-bench %s: this build has no CUDA (configure with -DRESA_CUDA=ON)\n",
                 command.c_str());
    return 2;
#endif
  }
  if (command == "--help" || command == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::fputs(kUsage, stderr);
  return 2;
}
