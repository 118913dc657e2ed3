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
        /// CIFAR-10, binary (`cifar-10-batches-bin/`) or python (`cifar-10-batches-py/`).
        case cifar10 = "cifar10"
        /// A researcher's folder: `train/<class>/<image>` and `test/` (or `val/`).
        case imageFolder = "image-folder"
        /// Tiny-ImageNet in its official `tiny-imagenet-200` layout.
        case tinyImageNet = "tiny-imagenet"

        /// Kinds whose images are files decoded by CILData's folder readers.
        public var isFolder: Bool { self == .imageFolder || self == .tinyImageNet }
    }

    /// Where folder datasets keep their decoded images.
    public enum Cache: String, Sendable, CaseIterable {
        /// In memory when the decoded images fit in `DatasetSpec.memoryCacheLimit`, else per batch.
        case auto
        /// Decode everything once, up front, into memory.
        case memory
        /// Decode (and resize) every image each time a batch needs it, in the loader's threads.
        case perBatch = "per-batch"
    }

    /// Decoded bytes (train + test) up to which `cache: auto` keeps images in memory: 4 GiB,
    /// a sixth of this machine's memory; Tiny-ImageNet at 64x64 takes 1.3 GB.
    public static let memoryCacheLimit = 4 << 30

    public var kind: Kind
    /// Which 100 ImageNet classes (`imagenet-subset` only): the LUCIR seed-1993 draw or
    /// PODNet's first 100 wnids ([LUCIR] `imagenet-class-incremental/gen_imagenet_subset.py`;
    /// [POD] `imagenet_split/val_100.txt`). They are different datasets.
    public var subset: ImageNetSubset?
    /// Training images used per class, the first n of each class in file order; nil = all.
    public var trainImagesPerClass: Int?
    /// Test images used per class, the first n of each class in file order; nil = all.
    public var testImagesPerClass: Int?
    /// Side of the square synthetic images (synthetic only).
    public var imageSize: Int?
    /// Seed of the synthetic images (synthetic only).
    public var syntheticSeed: Int?
    /// The dataset's folder when no `--data-root` is given. Not part of the fingerprint:
    /// the dataset digest says which images a run used, wherever they lay.
    public var root: String?
    /// Folder datasets: memory or per-batch decoding. Results are the same bits either way,
    /// so it is not part of the fingerprint.
    public var cache: Cache = .auto

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
        case .fashionMNIST, .cifar10: return 10
        case .tinyImageNet: return 200
        case .synthetic, .imageFolder: return nil
        }
    }

    /// The fewest training images any class of the full dataset has (ImageNet classes hold
    /// 732 to 1300), for rejecting memory budgets larger than the data.
    public var fullTrainImagesPerClass: Int? {
        switch kind {
        case .cifar100: return 500
        case .imageNetSubset, .imageNet: return 732
        case .fashionMNIST: return 6000
        case .cifar10: return 5000
        case .tinyImageNet: return 500
        case .synthetic, .imageFolder: return nil
        }
    }

    /// The fewest test images any class of the full dataset has.
    public var fullTestImagesPerClass: Int? {
        switch kind {
        case .cifar100: return 100
        case .imageNetSubset, .imageNet: return 50
        case .fashionMNIST, .cifar10: return 1000
        case .tinyImageNet: return 50
        case .synthetic, .imageFolder: return nil
        }
    }

    /// Training images per class the protocol actually uses (at least, for ImageNet).
    public var usedTrainImagesPerClass: Int? { trainImagesPerClass ?? fullTrainImagesPerClass }
}
