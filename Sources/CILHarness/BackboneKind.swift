import CILNetworks

/// The network a protocol trains. The LUCIR/AANets and PODNet ResNets differ in ways that
/// move accuracy (gotchas G9, G10), so they are different backbones here.
public enum BackboneKind: String, Sendable, Hashable, CaseIterable {
    /// LUCIR/AANets CIFAR ResNet-32 ([AAN] `models/modified_resnet_cifar.py`).
    case resnet32
    /// LUCIR/AANets ImageNet ResNet-18 ([AAN] `models/modified_resnet.py`).
    case resnet18
    /// PODNet's CIFAR ResNet-32: option-A shortcuts, no ReLU after the additions
    /// ([POD] `inclearn/convnet/my_resnet.py`, G9).
    case podnetResNet32 = "podnet-resnet32"
    /// PODNet's ImageNet ResNet-18 with a 3×3 stride-1 stem
    /// ([POD] `inclearn/convnet/resnet.py`, G10).
    case podnetResNet18 = "podnet-resnet18"

    /// The engine's architecture for this backbone.
    public var architecture: ResNetArchitecture {
        switch self {
        case .resnet32: return .resnet32
        case .resnet18: return .resnet18
        case .podnetResNet32: return .podnetResNet32
        case .podnetResNet18: return .podnetResNet18
        }
    }
}
