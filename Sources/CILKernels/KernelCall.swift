import Foundation

/// One kernel call that can be run again by itself: its kind, its attributes (strides,
/// padding, epsilon, transposes, scalars), copies of its inputs and its output as computed.
/// `cilbench replay --capture` saves one; `cilbench replay-kernel` re-executes it on the fast
/// path and in float64 to tell a library or CPU rounding difference from a bug.
public struct KernelCall: @unchecked Sendable {
    public var kind: String
    public var attributes: [String: Double]
    public var inputs: [Tensor]
    public var output: Tensor
    public var context: KernelContext

    /// Copies the tensors: an in-place kernel later in the run must not change them.
    public init(kind: String, attributes: [String: Double], inputs: [Tensor], output: Tensor, context: KernelContext) {
        self.kind = kind
        self.attributes = attributes
        self.inputs = inputs.map(Self.detached)
        self.output = Self.detached(output)
        self.context = context
    }

    /// The kinds `execute` knows: the kernels whose bits can depend on threads, ISA or the
    /// library (convolutions, batch norm, matrix multiply) and the elementwise ops.
    public static let capturableKinds: Set<String> = [
        "conv2d.forward", "conv2d.backward_data", "conv2d.backward_weights", "conv2d.inference",
        "batchNormTraining", "batchNormReLUTraining", "batchNormTrainingBackward", "batchNormReLUTrainingBackward",
        "batchNormAddTraining", "batchNormAddReLUTraining",
        "batchNormInference", "batchNormInferenceBackward", "matmul",
        "add", "subtract", "multiply", "scale", "axpby", "relu", "reluBackward", "addReLU", "reorder",
    ]

    public var isCapturable: Bool { Self.capturableKinds.contains(kind) }

    /// Runs the call again on `engine` with `inputs` (pass the float64 conversions and a
    /// float64 result comes back from the reference loops). Throws for unknown kinds and for
    /// inputs that do not fit the kind.
    public func execute(on engine: ComputeEngine, inputs given: [Tensor]? = nil) throws -> Tensor {
        let x = given ?? inputs
        func need(_ n: Int) throws {
            guard x.count == n else { throw KernelError.invalidArgument("\(kind) wants \(n) inputs, the capture has \(x.count)") }
        }
        func attribute(_ name: String) throws -> Double {
            guard let v = attributes[name] else { throw KernelError.invalidArgument("\(kind) capture lacks the attribute \(name)") }
            return v
        }
        func int(_ name: String) throws -> Int {
            let v = try attribute(name)
            guard v.isFinite, v == v.rounded(), abs(v) < 1e9 else { throw KernelError.invalidArgument("\(kind) attribute \(name) = \(v) is not an integer") }
            return Int(v)
        }
        func elementwise(_ n: Int, _ op: () -> Tensor) throws -> Tensor {
            try need(n)
            if n == 2 {
                guard x[0].shape == x[1].shape, x[0].dtype == x[1].dtype else {
                    throw KernelError.invalidArgument("\(kind) operands \(x[0].shape) and \(x[1].shape) differ")
                }
            }
            return op()
        }
        func rank4(_ shapes: [Int]...) throws {
            guard shapes.allSatisfy({ $0.count == 4 }) else { throw KernelError.invalidArgument("\(kind) wants 4-d tensors, got \(shapes)") }
        }
        switch kind {
        case "conv2d.forward":
            try need(2)
            return try engine.conv2dForward(x[0], weight: x[1], stride: int("stride"), padding: int("padding"), outputLayout: output.layout)
        case "conv2d.backward_data":
            try need(2)
            try rank4(output.shape, x[1].shape)
            let g = Conv2DGeometry(input: output.shape, weight: x[1].shape, stride: try int("stride"), padding: try int("padding"))
            return try engine.conv2dBackwardData(x[0], weight: x[1], geometry: g, inputLayout: output.layout)
        case "conv2d.backward_weights":
            try need(2)
            try rank4(x[1].shape, output.shape)
            let g = Conv2DGeometry(input: x[1].shape, weight: output.shape, stride: try int("stride"), padding: try int("padding"))
            return try engine.conv2dBackwardWeights(x[0], input: x[1], geometry: g)
        case "conv2d.inference":
            guard x.count == 3 || x.count == 4 else { throw KernelError.invalidArgument("conv2d.inference wants 3 or 4 inputs, got \(x.count)") }
            return try engine.conv2dInference(x[0], weight: x[1], bias: x[2], stride: int("stride"), padding: int("padding"),
                                              residual: x.count == 4 ? x[3] : nil, relu: attribute("relu") != 0, outputLayout: output.layout)
        case "batchNormTraining":
            try need(3)
            return try engine.batchNormTraining(x[0], gamma: x[1], beta: x[2], epsilon: attribute("epsilon")).output
        case "batchNormReLUTraining":
            try need(3)
            return try engine.batchNormReLUTraining(x[0], gamma: x[1], beta: x[2], epsilon: attribute("epsilon")).output
        case "batchNormAddTraining", "batchNormAddReLUTraining":
            try need(4)
            return try engine.batchNormAddTraining(x[0], gamma: x[1], beta: x[2], residual: x[3], relu: kind == "batchNormAddReLUTraining",
                                                   epsilon: attribute("epsilon")).output
        case "batchNormTrainingBackward":
            try need(5)
            let s = BatchNormStatistics(mean: x[3], inverseStd: x[4], variance: x[3])
            return try engine.batchNormTrainingBackward(x[0], input: x[1], gamma: x[2], statistics: s).gradInput
        case "batchNormReLUTrainingBackward":
            try need(6)
            let s = BatchNormStatistics(mean: x[4], inverseStd: x[5], variance: x[4])
            return try engine.batchNormReLUTrainingBackward(x[0], input: x[1], output: x[2], gamma: x[3], statistics: s).gradInput
        case "batchNormInference":
            try need(5)
            return try engine.batchNormInference(x[0], gamma: x[1], beta: x[2], runningMean: x[3], runningVariance: x[4], epsilon: attribute("epsilon"))
        case "batchNormInferenceBackward":
            try need(3)
            return try engine.batchNormInferenceBackward(x[0], gamma: x[1], runningVariance: x[2], epsilon: attribute("epsilon"))
        case "matmul":
            try need(2)
            let ta = try attribute("transposeA") != 0, tb = try attribute("transposeB") != 0
            guard x[0].rank == 2, x[1].rank == 2, x[0].dtype == x[1].dtype,
                  (ta ? x[0].shape[0] : x[0].shape[1]) == (tb ? x[1].shape[1] : x[1].shape[0]) else {
                throw KernelError.invalidArgument("matmul operands \(x[0].shape) and \(x[1].shape) do not fit")
            }
            return engine.matmul(x[0], x[1], transposeA: ta, transposeB: tb)
        case "reorder":
            try need(1)
            return try engine.reordered(x[0], to: output.layout)
        case "add": return try elementwise(2) { engine.add(x[0], x[1]) }
        case "subtract": return try elementwise(2) { engine.subtract(x[0], x[1]) }
        case "multiply": return try elementwise(2) { engine.multiply(x[0], x[1]) }
        case "addReLU": return try elementwise(2) { engine.addReLU(x[0], x[1]) }
        case "reluBackward": return try elementwise(2) { engine.reluBackward(x[0], output: x[1]) }
        case "relu": return try elementwise(1) { engine.relu(x[0]) }
        case "scale":
            let s = try attribute("scale")
            return try elementwise(1) { engine.scale(x[0], by: s) }
        case "axpby":
            let a = try attribute("alpha"), b = try attribute("beta")
            return try elementwise(2) { engine.axpby(x[0], alpha: a, x[1], beta: b) }
        default:
            throw KernelError.invalidArgument("\(kind) is not capturable (capturable: \(Self.capturableKinds.sorted().joined(separator: ", ")))")
        }
    }

    static func detached(_ t: Tensor) -> Tensor {
        let copy = Tensor(uninitialized: t.shape, dtype: t.dtype, layout: t.layout)
        copy.storage.raw.copyMemory(from: t.storage.raw, byteCount: t.count * t.dtype.byteWidth)
        return copy
    }
}

/// How far one tensor is from another: largest absolute and relative element difference.
public struct TensorDifference: Sendable, CustomStringConvertible {
    public var maxAbsolute: Double
    public var maxRelative: Double
    public var differingElements: Int
    public var elements: Int

    public init(_ a: Tensor, _ b: Tensor) {
        let x = a.doubles, y = b.doubles
        var absMax = 0.0, relMax = 0.0, differing = 0
        for (u, v) in zip(x, y) where !(u == v) && !(u.isNaN && v.isNaN) {
            differing += 1
            let d = abs(u - v)
            absMax = max(absMax, d.isNaN ? .infinity : d)
            relMax = max(relMax, d.isNaN ? .infinity : d / max(abs(v), Double.leastNormalMagnitude))
        }
        maxAbsolute = absMax
        maxRelative = relMax
        differingElements = differing + abs(x.count - y.count)
        elements = max(x.count, y.count)
    }

    public var description: String {
        differingElements == 0 ? "identical"
            : "\(differingElements) of \(elements) elements differ, max abs \(shortNumber(maxAbsolute)), max rel \(shortNumber(maxRelative))"
    }
}

func shortNumber(_ v: Double) -> String {
    v == 0 ? "0" : String(format: "%.3g", v)
}
