// CILMethods owns the plug-in contract for class-incremental methods, its registry, the
// shared machinery every method leans on (herding exemplar selection, memory policies,
// weight imprinting) and the built-in methods. It never sees the test split: the harness
// hands it training batches and features of training images only.
@_exported import CILNetworks
