// CILKernels owns tensor storage, counter-based random streams, output digests and every
// compute kernel. It is the only module that calls oneDNN or OpenBLAS or starts threads.
// Fast kernels work on Float32; the portable reference kernels (generic over Float and
// Double) define what the fast ones must compute and back the float64 gradient checks.
