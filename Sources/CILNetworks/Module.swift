/// Whether a forward pass trains (batch statistics, running-stat updates) or evaluates.
public enum Mode: Sendable {
    case training, evaluation
}

/// A network piece that maps one activation to another. Modules own their parameters
/// (weights and, as non-trainable parameters, BN running statistics) in a fixed order.
public protocol Module: AnyObject {
    /// Every parameter and buffer, in declaration order (this order keys digests).
    var parameters: [Parameter] { get }
    func forward(_ g: Graph, _ x: Var, mode: Mode) throws -> Var
    /// A deep copy: every parameter copied and renamed, convolutions optionally turned
    /// into AANets stable convolutions.
    func clone(_ spec: CloneSpec) -> Self
}

/// A chain of modules run one after another.
public final class Sequential: Module {
    public let modules: [any Module]

    public init(_ modules: [any Module]) { self.modules = modules }

    public var parameters: [Parameter] { modules.flatMap(\.parameters) }

    public func forward(_ g: Graph, _ x: Var, mode: Mode) throws -> Var {
        var h = x
        var i = 0
        while i < modules.count {
            // A convolution followed by batch norm folds into one kernel when nothing needs
            // gradients (see FoldedInference.swift).
            if g.foldsBatchNorm(mode), g[h].dtype == .float32, i + 1 < modules.count,
               let conv = modules[i] as? Conv2D, let bn = modules[i + 1] as? BatchNorm {
                h = try g.foldedConvBatchNorm(h, conv: conv, bn: bn, residual: nil, relu: bn.fusedReLU)
                i += 2
                continue
            }
            h = try modules[i].forward(g, h, mode: mode)
            i += 1
        }
        return h
    }

    public func clone(_ spec: CloneSpec) -> Self {
        Self(modules.map { $0.clone(spec) })
    }
}

/// How `Module.clone` copies: parameter renaming, and whether convolutions become stable
/// (frozen kernels times learnable per-kernel scales).
public struct CloneSpec {
    public var rename: (String) -> String
    public var stableConvolutions: Bool

    public init(rename: @escaping (String) -> String = { $0 }, stableConvolutions: Bool = false) {
        self.rename = rename
        self.stableConvolutions = stableConvolutions
    }

    /// Prefixes every name, e.g. "stable." or "plastic.".
    public static func prefixed(_ prefix: String, stableConvolutions: Bool = false) -> CloneSpec {
        CloneSpec(rename: { prefix + $0 }, stableConvolutions: stableConvolutions)
    }
}
