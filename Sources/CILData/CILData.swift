// CILData: the datasets of the AANets protocol (CIFAR-100/10, ImageNet and its two
// 100-class subsets, Fashion-MNIST), the papers' class orders reproduced bit for bit,
// per-codebase preprocessing, and loaders that assemble batches ahead of training.
//
// Determinism: every random decision (shuffles, crops, flips, jitter) comes from a
// `RandomStream` keyed by (seed, purpose, phase, epoch) and then by sample id, so a batch
// is the same whatever the thread count, the prefetch depth or the batch composition.
// Input problems surface as `DataError`, one line that names the file and the problem.
import CILKernels
