import CILData

/// The input pipeline of a protocol, named after the codebase it reproduces (§2.6).
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

    /// Input side after preprocessing, given the stored image side.
    public func inputSize(imageSize: Int) -> Int {
        switch self {
        case .lucirCIFAR, .podnetCIFAR, .fashionMNISTPad32: return 32
        case .lucirImageNet, .aanetsImageNet, .podnetImageNet: return 224
        case .synthetic: return imageSize
        }
    }

    /// The CILData pipeline for training (`train`) or evaluation images of side `imageSize`
    /// (after Fashion-MNIST's padding to 32).
    public func preprocessing(train: Bool, imageSize: Int) throws -> Preprocessing {
        switch self {
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
