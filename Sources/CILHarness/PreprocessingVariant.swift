import CILData

/// The input pipeline of a protocol, named after the codebase it reproduces ([AAN]
/// `trainer/base_trainer.py` l.97-126; [LUCIR] `class_incremental_cosine_cifar100.py` l.108-117;
/// [POD] `inclearn/lib/data/datasets.py` l.27-92).
public enum PreprocessingVariant: String, Sendable, Hashable, CaseIterable {
    /// LUCIR/AANets CIFAR: RandomCrop(32, 4) + flip; std ≈ 0.20 normalisation.
    case lucirCIFAR = "lucir-cifar"
    /// PODNet/PyCIL CIFAR: RandomCrop(32, 4) + flip + brightness 63/255; std ≈ 0.27.
    case podnetCIFAR = "podnet-cifar"
    /// LUCIR ImageNet: RandomResizedCrop(224) + flip; test Resize(256) + CenterCrop(224).
    case lucirImageNet = "lucir-imagenet"
    /// AANets ImageNet (since 161c3ad): as LUCIR plus brightness jitter 63/255.
    case aanetsImageNet = "aanets-imagenet"
    /// PODNet ImageNet: as AANets ImageNet.
    case podnetImageNet = "podnet-imagenet"
    /// Fashion-MNIST zero-padded from 28×28×1 to 32×32×3, then the LUCIR CIFAR pipeline's
    /// crop and flip; normalised with Fashion-MNIST's usual mean 0.2860 and std 0.3530.
    case fashionMNISTPad32 = "fmnist-pad32"
    /// Synthetic images: RandomCrop(size, size/8) + flip, mean 0.5, std 0.25.
    case synthetic = "synthetic"
    /// CIFAR-10: RandomCrop(32, 4) + flip; mean (0.4914, 0.4822, 0.4465), std (0.2023,
    /// 0.1994, 0.2010), the statistics PyCIL's iCIFAR10 (utils/data.py) normalises with.
    case cifar10 = "cifar10"
    /// Folders: RandomResizedCrop(size) + flip; test Resize(size) + CenterCrop(size), where
    /// size is the stored side (`dataset.image_size`, or the images' own); ImageNet statistics.
    case resizeCrop = "resize-crop"
    /// As `resize-crop`, normalised with the mean and std of the training split's stored
    /// images, measured on first use and recorded in the run's manifest.
    case resizeCropMeasured = "resize-crop-measured"

    /// Input side after preprocessing, given the stored image side.
    public func inputSize(imageSize: Int) -> Int {
        switch self {
        case .lucirCIFAR, .podnetCIFAR, .fashionMNISTPad32: return 32
        case .lucirImageNet, .aanetsImageNet, .podnetImageNet: return 224
        case .synthetic, .resizeCrop, .resizeCropMeasured: return imageSize
        case .cifar10: return 32
        }
    }

    /// The CILData pipeline for training (`train`) or evaluation images of side `imageSize`
    /// (after Fashion-MNIST's padding to 32).
    public func preprocessing(train: Bool, imageSize: Int) throws -> Preprocessing {
        try preprocessing(train: train, imageSize: imageSize, measured: nil)
    }

    /// As above; `measured` is the training split's statistics, which
    /// `resize-crop-measured` needs.
    public func preprocessing(train: Bool, imageSize: Int, measured: Normalization?) throws -> Preprocessing {
        switch self {
        case .cifar10:
            let norm = try Normalization(mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.2010])
            return train ? Preprocessing(spatial: .randomCrop(size: 32, padding: 4), horizontalFlip: true, brightness: nil, normalization: norm)
                : Preprocessing(spatial: .identity, horizontalFlip: false, brightness: nil, normalization: norm)
        case .resizeCrop, .resizeCropMeasured:
            let norm: Normalization
            if self == .resizeCrop { norm = .imageNet } else {
                guard let measured else { throw DataError.invalidArgument("resize-crop-measured needs the training split's statistics (measured when the data is loaded)") }
                norm = measured
            }
            return train ? Preprocessing(spatial: .randomResizedCrop(size: imageSize), horizontalFlip: true, brightness: nil, normalization: norm)
                : Preprocessing(spatial: .resizeCenterCrop(resize: imageSize, crop: imageSize), horizontalFlip: false, brightness: nil, normalization: norm)
        case .lucirCIFAR: return .cifar(.lucir, train: train)
        case .podnetCIFAR: return .cifar(.podnet, train: train)
        case .lucirImageNet: return .imageNet(.lucir, train: train)
        case .aanetsImageNet: return .imageNet(.aanets, train: train)
        case .podnetImageNet: return .imageNet(.podnet, train: train)
        case .fashionMNISTPad32:
            let norm = try Normalization(mean: [0.2860, 0.2860, 0.2860], std: [0.3530, 0.3530, 0.3530])
            return train ? Preprocessing(spatial: .randomCrop(size: 32, padding: 4), horizontalFlip: true, brightness: nil, normalization: norm)
                : Preprocessing(spatial: .identity, horizontalFlip: false, brightness: nil, normalization: norm)
        case .synthetic:
            let norm = try Normalization(mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])
            return train ? Preprocessing(spatial: .randomCrop(size: imageSize, padding: max(1, imageSize / 8)), horizontalFlip: true, brightness: nil, normalization: norm)
                : Preprocessing(spatial: .identity, horizontalFlip: false, brightness: nil, normalization: norm)
        }
    }
}
