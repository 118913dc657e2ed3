/// Per-channel mean and std applied after scaling pixels to [0, 1]. The codebases differ
/// ([LUCIR] `class_incremental_cosine_cifar100.py` l.108-117; [POD]
/// `inclearn/lib/data/datasets.py`): LUCIR/AANets CIFAR std ≈ 0.20 is not CIFAR's per-pixel std (≈ 0.27)
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

extension Normalization {
    /// As `measured(on:)` for any image source (images decoded one by one when they are
    /// files): the same sums in the same order, so an in-memory copy gives the same bits.
    public static func measured(onSource source: any ImageSource) throws -> Normalization {
        var sum = [Double](repeating: 0, count: 3), sumSq = [Double](repeating: 0, count: 3)
        var channels = 3, n = 0
        for i in 0..<source.count {
            try source.withImage(at: i) { view in
                channels = view.channels
                if sum.count != channels { sum = [Double](repeating: 0, count: channels); sumSq = sum }
                for j in 0..<view.pixels.count {
                    let v = Double(view.pixels[j]) / 255
                    sum[j % channels] += v
                    sumSq[j % channels] += v * v
                }
                n += view.pixels.count / channels
            }
        }
        let count = Double(max(1, n))
        let mean = sum.map { $0 / count }
        let std = zip(sumSq, mean).map { max(1e-6, ($0 / count - $1 * $1).squareRoot()) }
        return try Normalization(mean: mean.map(Float.init), std: std.map(Float.init))
    }

    /// One line for manifests and caches: `mean=a,b,c std=d,e,f`.
    public var recordText: String {
        "mean=\(mean.map { String($0) }.joined(separator: ",")) std=\(std.map { String($0) }.joined(separator: ","))"
    }

    public init(recordText text: String) throws {
        let parts = text.split(separator: " ")
        guard parts.count == 2, parts[0].hasPrefix("mean="), parts[1].hasPrefix("std=") else {
            throw DataError.invalidArgument("not a normalisation record: \(text)")
        }
        let mean = parts[0].dropFirst(5).split(separator: ",").compactMap { Float($0) }
        let std = parts[1].dropFirst(4).split(separator: ",").compactMap { Float($0) }
        try self.init(mean: mean, std: std)
    }
}
