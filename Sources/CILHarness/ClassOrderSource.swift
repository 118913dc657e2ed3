import CILData

/// Where a protocol's class order comes from. Every source resolves to a `ClassOrder`; the
/// fingerprint hashes the resolved labels, so two spellings of one order (a seed and the
/// same list written out) are the same protocol.
public enum ClassOrderSource: Sendable, Hashable, CustomStringConvertible {
    /// `np.random.seed(s); np.random.shuffle(arange(n))` (LUCIR/AANets use 1993:
    /// [AAN] `trainer/base_trainer.py` l.219-246).
    case numpySeed(UInt32)
    /// A fixed list known to CILData by name, e.g. `podnet-cifar100-0`.
    case named(String)
    /// An explicit list of dataset labels, learned in this order.
    case list([Int])
    /// Labels in their own order 0, 1, 2, ...: for folders, the sorted class names.
    case sorted

    public func resolve(classCount: Int) throws -> ClassOrder {
        switch self {
        case .numpySeed(let seed):
            return ClassOrder.numpyShuffle(seed: seed, classCount: classCount)
        case .named(let name):
            return try ClassOrder.named(name)
        case .list(let labels):
            return try ClassOrder(name: "list", labels: labels)
        case .sorted:
            return try ClassOrder(name: "sorted", labels: Array(0..<classCount))
        }
    }

    /// The spelling used in protocol files.
    public var description: String {
        switch self {
        case .numpySeed(let seed): return "numpy-seed-\(seed)"
        case .named(let name): return name
        case .list(let labels): return "[" + labels.map(String.init).joined(separator: ", ") + "]"
        case .sorted: return "sorted"
        }
    }
}
