// The frame every resa-bench subcommand shares: --help prints its usage,
// options that do not parse exit 2 naming the subcommand, a failure while it
// runs exits 1 with the error on stderr.
#pragma once

#include "resa/kernels/Tensor.h"

#include <cstdio>
#include <exception>
#include <string>

namespace resa::bench {

template <typename Parse, typename Run>
int runSubcommand(const char *name, const char *usage, int argc, char **argv, Parse parse,
                  Run run) {
  for (int i = 2; i < argc; ++i)
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::fputs(usage, stdout);
      return 0;
    }
  decltype(parse(argc, argv)) options;
  try {
    options = parse(argc, argv);
  } catch (const Error &e) {
    std::fprintf(stderr, "resa-bench %s: %s\n", name, e.what());
    return 2;
  }
  try {
    return run(options);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "resa-bench %s: error: %s\n", name, e.what());
    return 1;
  }
}

} // namespace resa::bench
