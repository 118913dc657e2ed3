/// Per-channel mean and std applied after scaling pixels to [0, 1]. The codebases differ
/// (protocol §2.6): LUCIR/AANets CIFAR std ≈ 0.20 is not CIFAR's per-pixel std (≈ 0.27)
/// but must be kept to reproduce AANets-LUCIR.
public struct Normalization: Sendable, Hashable {
    public let mean: [Float]
    public let std: [Float]

    public init(mean: [Float], std: [Float]) throws {
        guard !mean.isEmpty, mean.count == std.count, std.allSatisfy({ $0 > 0 }) else {
            throw DataError.invalidArgument("normalisation needs one positive std per mean: \(mean) / \(std)")
        }
        self.mean = mean
        self.std = std
    }

    private init(unchecked mean: [Float], _ std: [Float]) {
        self.mean = mean
        self.std = std
    }

    /// [AAN]/[LUCIR] CIFAR-100.
    public static let lucirCIFAR100 = Normalization(unchecked: [0.5071, 0.4866, 0.4409], [0.2009, 0.1984, 0.2023])
    /// [POD]/[PyCIL] CIFAR-100.
    public static let podnetCIFAR100 = Normalization(unchecked: [0.5071, 0.4867, 0.4408], [0.2675, 0.2565, 0.2761])
    /// ImageNet statistics, used by every codebase on ImageNet and its subsets.
    public static let imageNet = Normalization(unchecked: [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])

    /// Mean and (population) std per channel measured on a dataset, for data the papers
    /// never used (Fashion-MNIST, synthetic images).
    public static func measured(on data: ImageDataset) -> Normalization {
        var sum = [Double](repeating: 0, count: data.channels)
        var sumSq = [Double](repeating: 0, count: data.channels)
        data.pixels.withUnsafeBufferPointer { p in
            for i in 0..<p.count {
                let v = Double(p[i]) / 255
                sum[i % data.channels] += v
                sumSq[i % data.channels] += v * v
            }
        }
        let n = Double(max(1, data.pixels.count / data.channels))
        let mean = sum.map { $0 / n }
        let std = zip(sumSq, mean).map { max(1e-6, ($0 / n - $1 * $1).squareRoot()) }
        return Normalization(unchecked: mean.map(Float.init), std.map(Float.init))
    }
}
