/// A trainable (or frozen) tensor owned by a layer. Layers hold parameters by reference so
/// that an optimiser can update them in place and a graph can route gradients to them.
public final class Parameter {
    /// Hierarchical name ("level1.stage1.block0.conv1.weight"); names key optimiser state,
    /// digests and checkpoints, so they are unique within a network.
    public let name: String
    public var value: Tensor
    /// Accumulated gradient of the last backward pass(es); nil until one reaches it.
    public var gradient: Tensor?
    /// Frozen parameters get no gradient and are never updated.
    public var isTrainable: Bool
    /// The optimiser group (learning rate and weight decay multipliers) it belongs to.
    public var group: String

    public init(name: String, value: Tensor, isTrainable: Bool = true, group: String = "default") {
        self.name = name
        self.value = value
        self.isTrainable = isTrainable
        self.group = group
    }

    /// An independent copy (teacher snapshots, branch duplication).
    public func copy(name newName: String? = nil) -> Parameter {
        Parameter(name: newName ?? name, value: value, isTrainable: isTrainable, group: group)
    }
}

/// Digest of a list of parameters' values, in order: the "parameter digest" of a phase.
public func parameterDigest(_ parameters: [Parameter]) -> UInt64 {
    parameters.reduce(Digest.fnv1a("parameters")) { Digest.combine($0, Digest.combine(Digest.fnv1a($1.name), Digest.of($1.value))) }
}
