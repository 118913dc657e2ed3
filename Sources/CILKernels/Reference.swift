/// Namespace of the portable reference kernels: plain loops, generic over Float and Double,
/// that define what every fast kernel must compute. Float64 gradient checks run on them.
public enum Reference {}
