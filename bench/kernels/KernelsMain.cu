// resa-bench-kernels: `resa-bench kernels` as a program of its own, for the
// standalone build (bench/kernels/standalone: the CUDA kernels without the
// runtime, which resa-bench links) and the device scripts that carry it.
#include "KernelsBench.h"

int main(int argc, char **argv) { return resa::bench::kernels(argc, argv); }
