// CILData owns dataset readers (CIFAR, ImageNet, Fashion-MNIST), class orders, augmentation
// and batch loaders. Every random decision comes from a RandomStream keyed by
// (seed, phase, epoch, sample).
import CILKernels
