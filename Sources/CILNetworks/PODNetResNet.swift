/// PODNet's CIFAR ResNet-32 ("rebuffi", the iCaRL port; aanets-protocol.md §3.3). It
/// differs from the LUCIR/AANets ResNet-32 in three ways that change what a method
/// distils: the down-sampling shortcut has no parameters (option A), no residual addition
/// is followed by a ReLU (so every stage map and the pooled feature are pre-ReLU), and a
/// fourth "stage" of one extra 64-channel block follows stage 3. Each residual branch
/// starts as zero (last BN γ = 0), so the network starts as stem + identities.

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
        var h = try bn1.forward(g, conv1.forward(g, x, mode: mode), mode: mode)
        h = try bn2.forward(g, conv2.forward(g, h, mode: mode), mode: mode)
        let identity = stride == 1 && inChannels == outChannels ? x : g.subsampleAndPadChannels(x, stride: stride, outChannels: outChannels)
        return g.add(h, identity)
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
