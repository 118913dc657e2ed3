import CILData

/// Which images a protocol trains and tests on.
public struct DatasetSpec: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        case cifar100 = "cifar100"
        case imageNetSubset = "imagenet-subset"
        case imageNet = "imagenet"
        case fashionMNIST = "fashion-mnist"
        /// CILData's `SyntheticImages`: learnable stand-ins generated on the fly.
        case synthetic = "synthetic"
    }

    public var kind: Kind
    /// Which 100 ImageNet classes (`imagenet-subset` only): the LUCIR seed-1993 draw or
    /// PODNet's first 100 wnids (protocol §2.3). They are different datasets.
    public var subset: ImageNetSubset?
    /// Training images used per class, the first n of each class in file order; nil = all.
    public var trainImagesPerClass: Int?
    /// Test images used per class, the first n of each class in file order; nil = all.
    public var testImagesPerClass: Int?
    /// Side of the square synthetic images (synthetic only).
    public var imageSize: Int?
    /// Seed of the synthetic images (synthetic only).
    public var syntheticSeed: Int?

    public init(kind: Kind, subset: ImageNetSubset? = nil, trainImagesPerClass: Int? = nil, testImagesPerClass: Int? = nil,
                imageSize: Int? = nil, syntheticSeed: Int? = nil) {
        self.kind = kind
        self.subset = subset
        self.trainImagesPerClass = trainImagesPerClass
        self.testImagesPerClass = testImagesPerClass
        self.imageSize = imageSize
        self.syntheticSeed = syntheticSeed
    }

    /// Classes of the full dataset; nil for synthetic, which has as many as the protocol asks.
    public var datasetClassCount: Int? {
        switch kind {
        case .cifar100, .imageNetSubset: return 100
        case .imageNet: return 1000
        case .fashionMNIST: return 10
        case .synthetic: return nil
        }
    }

    /// The fewest training images any class of the full dataset has (ImageNet classes hold
    /// 732 to 1300), for rejecting memory budgets larger than the data.
    public var fullTrainImagesPerClass: Int? {
        switch kind {
        case .cifar100: return 500
        case .imageNetSubset, .imageNet: return 732
        case .fashionMNIST: return 6000
        case .synthetic: return nil
        }
    }

    /// The fewest test images any class of the full dataset has.
    public var fullTestImagesPerClass: Int? {
        switch kind {
        case .cifar100: return 100
        case .imageNetSubset, .imageNet: return 50
        case .fashionMNIST: return 1000
        case .synthetic: return nil
        }
    }

    /// Training images per class the protocol actually uses (at least, for ImageNet).
    public var usedTrainImagesPerClass: Int? { trainImagesPerClass ?? fullTrainImagesPerClass }
}
