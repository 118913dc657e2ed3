/// The order in which a benchmark's classes are learned: `labels[j]` is the dataset label
/// learned j-th, and classifier output j means class `labels[j]`. Orders that users mix
/// up carry distinct names (two "iCaRL" CIFAR-100 orders circulate: the seed-1993 shuffle of
/// [LUCIR]/[AAN] and the one of [POD] `options/data/cifar100_3orders.yaml`).
public struct ClassOrder: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let labels: [Int]
    private let positions: [Int]

    public init(name: String, labels: [Int]) throws {
        let n = labels.count
        var positions = [Int](repeating: -1, count: n)
        for (j, label) in labels.enumerated() {
            guard label >= 0, label < n, positions[label] < 0 else {
                throw DataError.invalidArgument("class order \(name) is not a permutation of 0..<\(n) (label \(label) at \(j))")
            }
            positions[label] = j
        }
        self.name = name
        self.labels = labels
        self.positions = positions
    }

    /// For lists that are permutations by construction.
    private init(permutation labels: [Int], name: String) {
        var positions = [Int](repeating: 0, count: labels.count)
        for (j, label) in labels.enumerated() { positions[label] = j }
        self.name = name
        self.labels = labels
        self.positions = positions
    }

    public var count: Int { labels.count }
    public var description: String { "\(name) [\(labels.prefix(5).map(String.init).joined(separator: ", ")), …]" }

    /// Learning position of a dataset label (LUCIR's `order_list.index(y)`).
    public func position(ofLabel label: Int) -> Int { positions[label] }
    /// Label → learning position for every label, for remapping targets.
    public var labelToPosition: [Int] { positions }

    /// `np.random.seed(seed); np.random.shuffle(np.arange(n))`: the LUCIR/AANets/PyCIL
    /// order on CIFAR-100 and ImageNet, and PODNet's ImageNet orders ([AAN]
    /// `trainer/base_trainer.py` l.219-246; [PyCIL] `utils/data_manager.py` l.202-204; [POD]
    /// `options/data/imagenet100_1order.yaml`, `imagenet1000_1order.yaml`).
    public static func numpyShuffle(seed: UInt32, classCount n: Int) -> ClassOrder {
        ClassOrder(permutation: MersenneTwister.numpyPermutation(seed: seed, count: n), name: "numpy-seed\(seed)-shuffle-\(n)")
    }

    /// LUCIR / AANets CIFAR-100: seed-1993 shuffle of 100 fine labels.
    public static let lucirCIFAR100 = numpyShuffle(seed: 1993, classCount: 100)
    /// ImageNet-1k (LUCIR/AANets and PODNet's imagenet1000_1order.yaml): seed-1993 shuffle
    /// of the 1000 alphabetically sorted wnids.
    public static let imageNet1k = numpyShuffle(seed: 1993, classCount: 1000)

    /// PODNet's CIFAR-100 orders (`options/data/cifar100_3orders.yaml`, commit 91a9454 of
    /// arthurdouillard/incremental_learning.pytorch), said to come from the iCaRL code.
    /// PODNet and POD-AANets report the mean over all three.
    public static func podnetCIFAR100(_ index: Int) throws -> ClassOrder {
        guard podnetCIFAR100Lists.indices.contains(index) else {
            throw DataError.invalidArgument("PODNet has CIFAR-100 orders 0, 1 and 2, not \(index)")
        }
        return try ClassOrder(name: "podnet-icarl-cifar100-order\(index)", labels: podnetCIFAR100Lists[index])
    }

    /// Looks an order up by the name used on the command line and in run files.
    public static func named(_ name: String) throws -> ClassOrder {
        switch name {
        case "lucir-cifar100", "seed1993-cifar100": return lucirCIFAR100
        case "imagenet1k", "seed1993-imagenet1k": return imageNet1k
        case "podnet-cifar100-0": return try podnetCIFAR100(0)
        case "podnet-cifar100-1": return try podnetCIFAR100(1)
        case "podnet-cifar100-2": return try podnetCIFAR100(2)
        default:
            if name.hasPrefix("seed1993-"), let n = Int(name.dropFirst("seed1993-".count)), n > 0 {
                return numpyShuffle(seed: 1993, classCount: n)
            }
            throw DataError.invalidArgument("unknown class order \(name) (known: lucir-cifar100, imagenet1k, podnet-cifar100-0/1/2, seed1993-<n>)")
        }
    }

    static let podnetCIFAR100Lists: [[Int]] = [
        [87, 0, 52, 58, 44, 91, 68, 97, 51, 15, 94, 92, 10, 72, 49, 78, 61, 14, 8, 86, 84, 96, 18, 24, 32, 45, 88, 11, 4, 67, 69, 66, 77, 47, 79, 93, 29, 50, 57, 83, 17, 81, 41, 12, 37, 59, 25, 20, 80, 73, 1, 28, 6, 46, 62, 82, 53, 9, 31, 75, 38, 63, 33, 74, 27, 22, 36, 3, 16, 21, 60, 19, 70, 90, 89, 43, 5, 42, 65, 76, 40, 30, 23, 85, 2, 95, 56, 48, 71, 64, 98, 13, 99, 7, 34, 55, 54, 26, 35, 39],
        [58, 30, 93, 69, 21, 77, 3, 78, 12, 71, 65, 40, 16, 49, 89, 46, 24, 66, 19, 41, 5, 29, 15, 73, 11, 70, 90, 63, 67, 25, 59, 72, 80, 94, 54, 33, 18, 96, 2, 10, 43, 9, 57, 81, 76, 50, 32, 6, 37, 7, 68, 91, 88, 95, 85, 4, 60, 36, 22, 27, 39, 42, 34, 51, 55, 28, 53, 48, 38, 17, 83, 86, 56, 35, 45, 79, 99, 84, 97, 82, 98, 26, 47, 44, 62, 13, 31, 0, 75, 14, 52, 74, 8, 20, 1, 92, 87, 23, 64, 61],
        [71, 54, 45, 32, 4, 8, 48, 66, 1, 91, 28, 82, 29, 22, 80, 27, 86, 23, 37, 47, 55, 9, 14, 68, 25, 96, 36, 90, 58, 21, 57, 81, 12, 26, 16, 89, 79, 49, 31, 38, 46, 20, 92, 88, 40, 39, 98, 94, 19, 95, 72, 24, 64, 18, 60, 50, 63, 61, 83, 76, 69, 35, 0, 52, 7, 65, 42, 73, 74, 30, 41, 3, 6, 53, 13, 56, 70, 77, 34, 97, 75, 2, 17, 93, 33, 84, 99, 51, 62, 87, 5, 15, 10, 78, 67, 44, 59, 85, 43, 11],
    ]
}
