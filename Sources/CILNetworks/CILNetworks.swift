// CILNetworks owns reverse-mode autodiff (the Graph tape), layers, the ResNet-32/18 and
// AANets dual-branch models, optimisers and learning-rate schedules. It computes only
// through CILKernels.
@_exported import CILKernels
