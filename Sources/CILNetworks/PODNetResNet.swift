/// PODNet's backbones, used by PODNet and POD-AANets.
///
/// The CIFAR ResNet-32 ("rebuffi", the iCaRL port) differs from the LUCIR/AANets ResNet-32
/// in three ways that change what a method distils: the down-sampling shortcut has no
/// parameters (option A), no residual addition is followed by a ReLU (so every stage map
/// and the pooled feature are pre-ReLU), and a fourth "stage" of one extra 64-channel
/// block follows stage 3. In both backbones each residual branch starts as zero (last BN
/// γ = 0), so a fresh network is its stem followed by identities and shortcuts.

/// conv3×3 → BN → ReLU → conv3×3 → BN (γ = 0) → + shortcut, with no ReLU after the sum.
/// The shortcut is the identity, or, when the block halves the resolution and widens,
/// x[..., ::2, ::2] with zero channels appended.
public final class OptionABasicBlock: Module {
    public let conv1: Conv2D, bn1: BatchNorm, conv2: Conv2D, bn2: BatchNorm
    public let inChannels: Int, outChannels: Int, stride: Int

    public init(conv1: Conv2D, bn1: BatchNorm, conv2: Conv2D, bn2: BatchNorm, inChannels: Int, outChannels: Int, stride: Int) {
        self.conv1 = conv1
        self.bn1 = bn1
        self.conv2 = conv2
        self.bn2 = bn2
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.stride = stride
    }

    public convenience init(name: String, inChannels: Int, outChannels: Int, stride: Int, seed: UInt64) {
        self.init(
            conv1: Conv2D(name: name + ".conv1", inChannels: inChannels, outChannels: outChannels, kernel: 3, stride: stride, padding: 1, seed: seed),
            bn1: BatchNorm(name: name + ".bn1", channels: outChannels, fusedReLU: true),
            conv2: Conv2D(name: name + ".conv2", inChannels: outChannels, outChannels: outChannels, kernel: 3, stride: 1, padding: 1, seed: seed),
            bn2: BatchNorm(name: name + ".bn2", channels: outChannels, fusedReLU: false, gammaInit: 0),
            inChannels: inChannels, outChannels: outChannels, stride: stride)
    }

    public var parameters: [Parameter] { conv1.parameters + bn1.parameters + conv2.parameters + bn2.parameters }

    public func forward(_ g: Graph, _ x: Var, mode: Mode) throws -> Var {
        let h = try conv2.forward(g, bn1.forward(g, conv1.forward(g, x, mode: mode), mode: mode), mode: mode)
        let identity = stride == 1 && inChannels == outChannels ? x : g.subsampleAndPadChannels(x, stride: stride, outChannels: outChannels)
        return try bn2.forward(g, h, adding: identity, relu: false, mode: mode)
    }

    public func clone(_ spec: CloneSpec) -> Self {
        Self(conv1: conv1.clone(spec), bn1: bn1.clone(spec), conv2: conv2.clone(spec), bn2: bn2.clone(spec),
             inChannels: inChannels, outChannels: outChannels, stride: stride)
    }
}

extension ResNet {
    /// The four levels of PODNet's CIFAR ResNet-32, which are also POD-AANets' four
    /// aggregation levels and PODNet's four attention maps:
    /// stem + stage 1 (5 blocks at 16), stage 2 (down-block + 4 at 32),
    /// stage 3 (down-block + 3 at 64), stage 4 (1 block at 64).
    static func podnetCIFARLevels(inputChannels: Int, seed: UInt64) -> [Sequential] {
        let stem: [any Module] = [
            Conv2D(name: "stem.conv", inChannels: inputChannels, outChannels: 16, kernel: 3, stride: 1, padding: 1, seed: seed),
            BatchNorm(name: "stem.bn", channels: 16, fusedReLU: true),
        ]
        // (width, blocks including the down-block, whether the first block halves the resolution)
        let stages: [(width: Int, blocks: Int, downsamples: Bool)] = [(16, 5, false), (32, 5, true), (64, 4, true), (64, 1, false)]
        var inChannels = 16
        return stages.enumerated().map { s, stage in
            let blocks: [any Module] = (0..<stage.blocks).map { b in
                OptionABasicBlock(name: "stage\(s + 1).block\(b)", inChannels: b == 0 ? inChannels : stage.width, outChannels: stage.width,
                                  stride: b == 0 && stage.downsamples ? 2 : 1, seed: seed)
            }
            inChannels = stage.width
            return Sequential((s == 0 ? stem : []) + blocks)
        }
    }
}

extension ResNet {
    /// PODNet's ImageNet ResNet-18 ([POD] `inclearn/convnet/resnet.py` l.105-215):
    /// torchvision's layout at width 64 with three changes. The stem is a 3×3 stride-1
    /// convolution (then BN, ReLU and the 3×3/2 max-pool), so every later map is twice as
    /// large as in the standard ResNet-18 (about 3.8× its cost). Within each stage only the
    /// first block ends with a ReLU; the second does not, and nothing is applied between
    /// stages, so all four stage maps (PODNet's attention maps, POD-AANets' levels) and the
    /// pooled feature are pre-ReLU. Every residual branch's last BN starts at γ = 0;
    /// down-sampling shortcuts are 1×1 conv + BN.
    static func podnetImageNetLevels(inputChannels: Int, seed: UInt64) -> [Sequential] {
        let stem: [any Module] = [
            Conv2D(name: "stem.conv", inChannels: inputChannels, outChannels: 64, kernel: 3, stride: 1, padding: 1, seed: seed),
            BatchNorm(name: "stem.bn", channels: 64, fusedReLU: true),
            MaxPool(kernel: 3, stride: 2, padding: 1),
        ]
        var inChannels = 64
        return [64, 128, 256, 512].enumerated().map { s, width in
            let blocks: [any Module] = (0..<2).map { b in
                let name = "layer\(s + 1).block\(b)"
                let blockIn = b == 0 ? inChannels : width, stride = b == 0 && s > 0 ? 2 : 1
                let projects = stride != 1 || blockIn != width
                return BasicBlock(
                    conv1: Conv2D(name: name + ".conv1", inChannels: blockIn, outChannels: width, kernel: 3, stride: stride, padding: 1, seed: seed),
                    bn1: BatchNorm(name: name + ".bn1", channels: width, fusedReLU: true),
                    conv2: Conv2D(name: name + ".conv2", inChannels: width, outChannels: width, kernel: 3, stride: 1, padding: 1, seed: seed),
                    bn2: BatchNorm(name: name + ".bn2", channels: width, fusedReLU: false, gammaInit: 0),
                    shortcut: projects
                        ? (Conv2D(name: name + ".downsample.conv", inChannels: blockIn, outChannels: width, kernel: 1, stride: stride, padding: 0, seed: seed),
                           BatchNorm(name: name + ".downsample.bn", channels: width, fusedReLU: false))
                        : nil,
                    finalReLU: b == 0)
            }
            inChannels = width
            return Sequential((s == 0 ? stem : []) + blocks)
        }
    }
}
