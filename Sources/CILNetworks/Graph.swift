/// A handle to a value recorded on a `Graph`.
public struct Var: Sendable, Hashable {
    public let id: Int
}

/// Reverse-mode automatic differentiation by a tape. Every op appends its output and a
/// backward closure; since creation order is a topological order, `backward` walks the tape
/// once in reverse, with no sorting and no dependence on hashing or thread timing.
/// A graph lives for one forward/backward pass and is then dropped.
public final class Graph {
    public let engine: ComputeEngine
    /// When false (teacher forwards, evaluation), ops record no backward closures.
    public let recordsGradients: Bool

    private(set) var values: [Tensor] = []
    private var gradients: [Tensor?] = []
    private var requiresGradient: [Bool] = []
    private var backwards: [((Graph, Tensor) throws -> Void)?] = []
    private var parameterOfLeaf: [Parameter?] = []
    private var leafOfParameter: [ObjectIdentifier: Var] = [:]

    public init(engine: ComputeEngine, recordsGradients: Bool = true) {
        self.engine = engine
        self.recordsGradients = recordsGradients
    }

    public subscript(_ v: Var) -> Tensor { values[v.id] }

    public func requiresGradient(_ v: Var) -> Bool { requiresGradient[v.id] }

    /// A constant input (data, labels as floats, teacher outputs): no gradient.
    public func constant(_ tensor: Tensor) -> Var {
        append(tensor, requiresGradient: false, backward: nil, parameter: nil)
    }

    /// The leaf for a parameter; the same parameter used twice maps to one leaf.
    public func parameter(_ p: Parameter) -> Var {
        if let existing = leafOfParameter[ObjectIdentifier(p)] { return existing }
        let v = append(p.value, requiresGradient: recordsGradients && p.isTrainable, backward: nil, parameter: p)
        leafOfParameter[ObjectIdentifier(p)] = v
        return v
    }

    /// Records an op's output. `backward` receives the output gradient and must call
    /// `accumulate` for each input that `requiresGradient`.
    public func record(_ output: Tensor, inputs: [Var], backward: @escaping (Graph, Tensor) throws -> Void) -> Var {
        let needs = recordsGradients && inputs.contains { requiresGradient[$0.id] }
        return append(output, requiresGradient: needs, backward: needs ? backward : nil, parameter: nil)
    }

    /// Adds `gradient` to the gradient of `v` (if `v` needs one).
    public func accumulate(_ v: Var, _ gradient: Tensor) {
        guard requiresGradient[v.id] else { return }
        let value = values[v.id]
        precondition(gradient.shape == value.shape, "gradient \(gradient.shape) for value \(value.shape)")
        // A gradient has its value's layout, whatever op produced it: relabelled where the
        // element order is the same, moved where one side is blocked (nChw16c).
        var gradient = gradient
        if (gradient.layout == .nChw16c) != (value.layout == .nChw16c) {
            guard let moved = try? engine.reordered(gradient, to: value.layout == .nChw16c ? .nChw16c : .nhwc) else {
                preconditionFailure("gradient \(gradient.layout) \(gradient.shape) cannot take the layout of its value, \(value.layout)")
            }
            gradient = moved
        }
        if gradient.layout != value.layout { gradient = gradient.reshaped(value.shape, layout: value.layout) }
        if gradients[v.id] == nil {
            gradients[v.id] = gradient
        } else {
            engine.addInPlace(&gradients[v.id]!, gradient)
        }
    }

    /// Back-propagates from a scalar `loss` (seeded with `seed`, default 1) and adds the
    /// results to the parameters' `gradient`.
    public func backward(from loss: Var, seed: Double = 1) throws {
        precondition(values[loss.id].count == 1, "backward needs a scalar loss, got \(values[loss.id].shape)")
        guard requiresGradient[loss.id] else { return }
        accumulate(loss, Tensor(filled: seed, shape: values[loss.id].shape, dtype: values[loss.id].dtype))
        for id in stride(from: loss.id, through: 0, by: -1) {
            guard let g = gradients[id] else { continue }
            if let step = backwards[id] {
                try step(self, g)
                backwards[id] = nil          // frees the tensors the closure saved
                gradients[id] = nil
            } else if let p = parameterOfLeaf[id] {
                if p.gradient == nil { p.gradient = g } else { engine.addInPlace(&p.gradient!, g) }
                gradients[id] = nil
            }
        }
    }

    /// The gradient that reached `v` in the last backward (only kept for leaves without a
    /// parameter, e.g. inputs marked by `variable`).
    public func gradient(of v: Var) -> Tensor? { gradients[v.id] }

    /// Runs `body` with the engine's layer label set to the name of the parameter behind
    /// `v` (if it is one), so traced kernel calls name their layer; restores the label after.
    /// Costs one string retain per op without an observer.
    @inline(__always)
    func labelled<R>(_ v: Var, _ body: () throws -> R) rethrows -> R {
        guard let p = parameterOfLeaf[v.id] else { return try body() }
        let saved = engine.layer
        engine.layer = p.name
        defer { engine.layer = saved }
        return try body()
    }

    /// A leaf that requires a gradient but is not a parameter (gradient checks of inputs).
    public func variable(_ tensor: Tensor) -> Var {
        append(tensor, requiresGradient: recordsGradients, backward: nil, parameter: nil)
    }

    private func append(_ t: Tensor, requiresGradient needs: Bool, backward: ((Graph, Tensor) throws -> Void)?, parameter: Parameter?) -> Var {
        values.append(t)
        gradients.append(nil)
        requiresGradient.append(needs)
        backwards.append(backward)
        parameterOfLeaf.append(parameter)
        return Var(id: values.count - 1)
    }
}
