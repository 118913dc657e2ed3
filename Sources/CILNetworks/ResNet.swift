/// ResNet-32 (CIFAR) and ResNet-18 (ImageNet) exactly as LUCIR and AANets build them:
/// option-B shortcuts (1×1 conv + BN when the shape changes), no ReLU after the last block.
/// A network is a list of *levels* (AANets' unit of aggregation); each level's output is
/// one of the per-stage feature maps methods distil on.

/// conv3×3 → BN → ReLU → conv3×3 → BN → (+ shortcut) → ReLU (omitted in the last block).
public final class BasicBlock: Module {
    public let conv1: Conv2D, bn1: BatchNorm, conv2: Conv2D, bn2: BatchNorm
    public let shortcut: (conv: Conv2D, bn: BatchNorm)?
    public let finalReLU: Bool

    public init(conv1: Conv2D, bn1: BatchNorm, conv2: Conv2D, bn2: BatchNorm, shortcut: (conv: Conv2D, bn: BatchNorm)?, finalReLU: Bool) {
        self.conv1 = conv1
        self.bn1 = bn1
        self.conv2 = conv2
        self.bn2 = bn2
        self.shortcut = shortcut
        self.finalReLU = finalReLU
    }

    public convenience init(name: String, inChannels: Int, outChannels: Int, stride: Int, finalReLU: Bool, seed: UInt64) {
        let needsProjection = stride != 1 || inChannels != outChannels
        self.init(
            conv1: Conv2D(name: name + ".conv1", inChannels: inChannels, outChannels: outChannels, kernel: 3, stride: stride, padding: 1, seed: seed),
            bn1: BatchNorm(name: name + ".bn1", channels: outChannels, fusedReLU: true),
            conv2: Conv2D(name: name + ".conv2", inChannels: outChannels, outChannels: outChannels, kernel: 3, stride: 1, padding: 1, seed: seed),
            bn2: BatchNorm(name: name + ".bn2", channels: outChannels, fusedReLU: false),
            shortcut: needsProjection
                ? (Conv2D(name: name + ".downsample.conv", inChannels: inChannels, outChannels: outChannels, kernel: 1, stride: stride, padding: 0, seed: seed),
                   BatchNorm(name: name + ".downsample.bn", channels: outChannels, fusedReLU: false))
                : nil,
            finalReLU: finalReLU)
    }

    public var parameters: [Parameter] {
        conv1.parameters + bn1.parameters + conv2.parameters + bn2.parameters
            + (shortcut.map { $0.conv.parameters + $0.bn.parameters } ?? [])
    }

    /// The output is in the engine's activation layout for this block's width (blocked
    /// nChw16c in the Winograd engine's wide stages, BlockedLayout.swift); the input may be
    /// in either layout.
    public func forward(_ g: Graph, _ x: Var, mode: Mode) throws -> Var {
        let layout = g.engine.activationLayout(channels: conv2.outChannels, dtype: g[x].dtype)
        if g.foldsBatchNorm(mode), g[x].dtype == .float32 {
            let identity = try shortcut.map { try g.foldedConvBatchNorm(x, conv: $0.conv, bn: $0.bn, residual: nil, relu: false, outputLayout: layout) }
                ?? g.reordered(x, to: layout)
            let h = try g.foldedConvBatchNorm(x, conv: conv1, bn: bn1, residual: nil, relu: bn1.fusedReLU, outputLayout: layout)
            return try g.foldedConvBatchNorm(h, conv: conv2, bn: bn2, residual: identity, relu: finalReLU, outputLayout: layout)
        }
        let h1 = try bn1.forward(g, conv1.forward(g, x, mode: mode, outputLayout: layout), mode: mode)
        let h = try conv2.forward(g, h1, mode: mode, outputLayout: layout)
        let identity = try shortcut.map { try $0.bn.forward(g, $0.conv.forward(g, x, mode: mode, outputLayout: layout), mode: mode) }
            ?? g.reordered(x, to: layout)
        return try bn2.forward(g, h, adding: identity, relu: finalReLU, mode: mode)
    }

    public func clone(_ spec: CloneSpec) -> Self {
        Self(conv1: conv1.clone(spec), bn1: bn1.clone(spec), conv2: conv2.clone(spec), bn2: bn2.clone(spec),
             shortcut: shortcut.map { ($0.conv.clone(spec), $0.bn.clone(spec)) }, finalReLU: finalReLU)
    }
}

/// The shape of a ResNet: stem, stages, and how stages group into AANets levels.
public enum ResNetArchitecture: String, Sendable, Codable, CaseIterable {
    /// LUCIR/AANets CIFAR ResNet-32: 3×3 stem, 3 stages × 5 blocks (16/32/64), 64-d feature.
    case resnet32
    /// LUCIR/AANets ImageNet ResNet-18: 7×7/2 stem + 3×3/2 max-pool, 4 stages × 2 blocks, 512-d.
    case resnet18
    /// PODNet's CIFAR "rebuffi" ResNet-32: option-A shortcuts, no ReLU after any residual
    /// sum, zero-initialised residual branches, a 4th stage of one 64-channel block; 4 levels.
    case podnetResNet32
    /// PODNet's ImageNet ResNet-18: 3×3 stride-1 stem + max-pool, zero-initialised residual
    /// branches, a ReLU after the first block of each stage only; 4 levels, 512-d.
    case podnetResNet18

    public var featureDimension: Int {
        switch self {
        case .resnet32, .podnetResNet32: return 64
        case .resnet18, .podnetResNet18: return 512
        }
    }
}

/// Per-stage feature maps (one per level) and the pooled feature of one forward pass.
public struct BackboneFeatures {
    public var stages: [Var]
    public var pooled: Var
}

/// Anything that maps images to features: a plain ResNet or an AANets dual-branch network.
public protocol Backbone: AnyObject {
    var parameters: [Parameter] { get }
    var featureDimension: Int { get }
    func features(_ g: Graph, _ images: Var, mode: Mode) throws -> BackboneFeatures
    /// A deep copy (teachers are frozen copies of the previous phase's network).
    func copy(_ spec: CloneSpec) -> any Backbone
}

public final class ResNet: Backbone {
    public let architecture: ResNetArchitecture
    /// Levels: the stem belongs to the first level; the global average pool follows the last.
    public let levels: [Sequential]

    public init(architecture: ResNetArchitecture, levels: [Sequential]) {
        self.architecture = architecture
        self.levels = levels
    }

    public convenience init(_ architecture: ResNetArchitecture, inputChannels: Int = 3, seed: UInt64) {
        var levels: [Sequential] = []
        switch architecture {
        case .resnet32:
            let stem: [any Module] = [
                Conv2D(name: "stem.conv", inChannels: inputChannels, outChannels: 16, kernel: 3, stride: 1, padding: 1, seed: seed),
                BatchNorm(name: "stem.bn", channels: 16, fusedReLU: true),
            ]
            let widths = [16, 32, 64]
            var inChannels = 16
            for (s, width) in widths.enumerated() {
                let blocks: [any Module] = (0..<5).map { b in
                    let block = BasicBlock(name: "stage\(s + 1).block\(b)", inChannels: b == 0 ? inChannels : width, outChannels: width,
                                           stride: (b == 0 && s > 0) ? 2 : 1, finalReLU: !(s == 2 && b == 4), seed: seed)
                    return block
                }
                inChannels = width
                levels.append(Sequential((s == 0 ? stem : []) + blocks))
            }
        case .resnet18:
            let stem: [any Module] = [
                Conv2D(name: "stem.conv", inChannels: inputChannels, outChannels: 64, kernel: 7, stride: 2, padding: 3, seed: seed),
                BatchNorm(name: "stem.bn", channels: 64, fusedReLU: true),
                MaxPool(kernel: 3, stride: 2, padding: 1),
            ]
            let widths = [64, 128, 256, 512]
            var inChannels = 64
            for (s, width) in widths.enumerated() {
                let blocks: [any Module] = (0..<2).map { b in
                    BasicBlock(name: "layer\(s + 1).block\(b)", inChannels: b == 0 ? inChannels : width, outChannels: width,
                               stride: (b == 0 && s > 0) ? 2 : 1, finalReLU: !(s == 3 && b == 1), seed: seed)
                }
                inChannels = width
                levels.append(Sequential((s == 0 ? stem : []) + blocks))
            }
        case .podnetResNet32:
            levels = Self.podnetCIFARLevels(inputChannels: inputChannels, seed: seed)
        case .podnetResNet18:
            levels = Self.podnetImageNetLevels(inputChannels: inputChannels, seed: seed)
        }
        self.init(architecture: architecture, levels: levels)
    }

    public var parameters: [Parameter] { levels.flatMap(\.parameters) }
    public var featureDimension: Int { architecture.featureDimension }

    /// A level's output may be blocked (BasicBlock) and goes on to the next level as it is;
    /// the stage maps methods see are NHWC.
    public func features(_ g: Graph, _ images: Var, mode: Mode) throws -> BackboneFeatures {
        var h = images
        var stages: [Var] = []
        for level in levels {
            h = try level.forward(g, h, mode: mode)
            stages.append(try g.reordered(h, to: .nhwc))
        }
        return BackboneFeatures(stages: stages, pooled: g.globalAveragePool(stages[stages.count - 1]))
    }

    public func clone(_ spec: CloneSpec) -> ResNet {
        ResNet(architecture: architecture, levels: levels.map { $0.clone(spec) })
    }

    public func copy(_ spec: CloneSpec) -> any Backbone { clone(spec) }
}
