// resa-bench kernels (bench/kernels/DecodeBench.cu): the CUDA decode
// attention and ReSA step against the copy ceiling. argv[0] is "kernels"
// (resa-bench passes its arguments from the command on) or the program's
// name (resa-bench-kernels).
#pragma once

namespace resa::bench {

int kernels(int argc, char **argv);

} // namespace resa::bench
