/// Elementwise math for loss terms (square, sqrt, exp, log, clamp, abs, negate), with the
/// backward of each. These run on small tensors (logits, features); one generic loop serves
/// both the fast and the reference path.
public enum UnaryFunction: Sendable, Hashable {
    case square, sqrt, exp, log, abs, negate
    case clamp(min: Double, max: Double)

    var name: String {
        switch self {
        case .square: "square"
        case .sqrt: "sqrt"
        case .exp: "exp"
        case .log: "log"
        case .abs: "abs"
        case .negate: "negate"
        case .clamp: "clamp"
        }
    }
}

extension ComputeEngine {
    public func unary(_ function: UnaryFunction, _ x: Tensor) -> Tensor {
        let out = Tensor(uninitialized: x.shape, dtype: x.dtype, layout: x.layout)
        switch x.dtype {
        case .float32: Reference.unary(Float.self, function, x, out)
        case .float64: Reference.unary(Double.self, function, x, out)
        }
        record("unary.\(function.name)", inputs: [x], output: out)
        return out
    }

    /// Gradient with respect to the input, given the forward's input and output.
    public func unaryBackward(_ function: UnaryFunction, gradOutput: Tensor, input: Tensor, output: Tensor) -> Tensor {
        let out = Tensor(uninitialized: input.shape, dtype: input.dtype, layout: input.layout)
        switch input.dtype {
        case .float32: Reference.unaryBackward(Float.self, function, gradOutput, input, output, out)
        case .float64: Reference.unaryBackward(Double.self, function, gradOutput, input, output, out)
        }
        record("unary.\(function.name).backward", inputs: [gradOutput, input], output: out)
        return out
    }
}

extension Reference {
    static func unary<T: KernelScalar>(_: T.Type, _ f: UnaryFunction, _ x: Tensor, _ out: Tensor) {
        let px = x.scalars(T.self), po = out.mutableScalars(T.self)
        switch f {
        case .square: for i in 0..<px.count { po[i] = px[i] * px[i] }
        case .sqrt: for i in 0..<px.count { po[i] = px[i].squareRoot() }
        case .exp: for i in 0..<px.count { po[i] = T.exp(px[i]) }
        case .log: for i in 0..<px.count { po[i] = T.log(px[i]) }
        case .abs: for i in 0..<px.count { po[i] = Swift.abs(px[i]) }
        case .negate: for i in 0..<px.count { po[i] = -px[i] }
        case .clamp(let lo, let hi):
            let l = T(lo), h = T(hi)
            for i in 0..<px.count { po[i] = Swift.min(Swift.max(px[i], l), h) }
        }
    }

    static func unaryBackward<T: KernelScalar>(_: T.Type, _ f: UnaryFunction, _ g: Tensor, _ x: Tensor, _ y: Tensor, _ out: Tensor) {
        let pg = g.scalars(T.self), px = x.scalars(T.self), py = y.scalars(T.self), po = out.mutableScalars(T.self)
        switch f {
        case .square: for i in 0..<pg.count { po[i] = 2 * px[i] * pg[i] }
        case .sqrt: for i in 0..<pg.count { po[i] = pg[i] / (2 * py[i]) }
        case .exp: for i in 0..<pg.count { po[i] = pg[i] * py[i] }
        case .log: for i in 0..<pg.count { po[i] = pg[i] / px[i] }
        case .abs: for i in 0..<pg.count { po[i] = px[i] > 0 ? pg[i] : (px[i] < 0 ? -pg[i] : 0) }
        case .negate: for i in 0..<pg.count { po[i] = -pg[i] }
        case .clamp(let lo, let hi):
            let l = T(lo), h = T(hi)
            for i in 0..<pg.count { po[i] = (px[i] >= l && px[i] <= h) ? pg[i] : 0 }
        }
    }
}
