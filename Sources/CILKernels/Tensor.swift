import Foundation

/// Element type of a tensor. Training runs in float32; float64 exists for the reference
/// path and the finite-difference gradient checks.
public enum DType: String, Sendable, Hashable, Codable {
    case float32, float64
    public var byteWidth: Int { self == .float32 ? 4 : 8 }
}

/// How a 4-d tensor's axes are laid out in memory. Activations are NHWC (oneDNN keeps its
/// fast direct kernels only when activations stay channel-innermost), except inside the
/// residual stages of the Winograd engine, which keeps them in oneDNN's blocked nChw16c
/// (BlockedLayout.swift); convolution weights are OIHW, as in PyTorch checkpoints.
/// Everything else is plain row-major.
public enum Layout: String, Sendable, Hashable, Codable {
    case plain, nhwc, oihw
    /// Logical shape [N, H, W, C] (as for `.nhwc`), memory [N][C/16][H][W][16]: channel c of
    /// pixel (n, h, w) sits at ((n·C/16 + c/16)·H + h)·W·16 + w·16 + c%16. C is a multiple of 16.
    case nChw16c
}

/// A dense row-major tensor with value semantics (copy-on-write storage).
/// `shape` lists the axes in memory order: [N, H, W, C] for `.nhwc`, [O, I, KH, KW] for `.oihw`;
/// a `.nChw16c` tensor has the logical shape [N, H, W, C] and its own memory order.
public struct Tensor: @unchecked Sendable {
    public private(set) var shape: [Int]
    public private(set) var layout: Layout
    public let dtype: DType
    public private(set) var storage: TensorStorage

    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }

    public init(zeros shape: [Int], dtype: DType = .float32, layout: Layout = .plain) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.layout = layout
        self.dtype = dtype
        storage = TensorStorage(byteCount: shape.reduce(1, *) * dtype.byteWidth)
    }

    /// Uninitialised storage, for kernels that overwrite every element.
    public init(uninitialized shape: [Int], dtype: DType = .float32, layout: Layout = .plain) {
        self.shape = shape
        self.layout = layout
        self.dtype = dtype
        storage = TensorStorage(byteCount: shape.reduce(1, *) * dtype.byteWidth, zeroed: false)
    }

    public init(shape: [Int], scalars: [Float], layout: Layout = .plain) {
        precondition(shape.reduce(1, *) == scalars.count, "shape \(shape) needs \(shape.reduce(1, *)) scalars, got \(scalars.count)")
        self.init(uninitialized: shape, dtype: .float32, layout: layout)
        scalars.withUnsafeBytes { storage.raw.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    public init(shape: [Int], scalars: [Double], layout: Layout = .plain) {
        precondition(shape.reduce(1, *) == scalars.count, "shape \(shape) needs \(shape.reduce(1, *)) scalars, got \(scalars.count)")
        self.init(uninitialized: shape, dtype: .float64, layout: layout)
        scalars.withUnsafeBytes { storage.raw.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    public init(scalar: Float) { self.init(shape: [], scalars: [scalar]) }

    public init(filled value: Double, shape: [Int], dtype: DType = .float32, layout: Layout = .plain) {
        self.init(uninitialized: shape, dtype: dtype, layout: layout)
        let n = count
        switch dtype {
        case .float32: storage.raw.bindMemory(to: Float.self, capacity: n).update(repeating: Float(value), count: n)
        case .float64: storage.raw.bindMemory(to: Double.self, capacity: n).update(repeating: value, count: n)
        }
    }

    // MARK: Element access

    /// Read-only typed view; `T` must match `dtype`.
    @inlinable
    public func withUnsafeBufferPointer<T, R>(as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R) rethrows -> R {
        precondition(MemoryLayout<T>.stride == dtype.byteWidth, "tensor is \(dtype), accessed as \(T.self)")
        return try body(UnsafeBufferPointer(start: storage.raw.assumingMemoryBound(to: T.self), count: count))
    }

    /// Mutable typed view; copies the storage first if another tensor shares it.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<T, R>(as type: T.Type, _ body: (UnsafeMutableBufferPointer<T>) throws -> R) rethrows -> R {
        precondition(MemoryLayout<T>.stride == dtype.byteWidth, "tensor is \(dtype), accessed as \(T.self)")
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.raw.assumingMemoryBound(to: T.self), count: count))
    }

    @usableFromInline
    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    /// Raw float pointer for kernels that write a freshly created tensor they own.
    public var floatPointer: UnsafeMutablePointer<Float> {
        precondition(dtype == .float32)
        return storage.raw.assumingMemoryBound(to: Float.self)
    }

    public var doublePointer: UnsafeMutablePointer<Double> {
        precondition(dtype == .float64)
        return storage.raw.assumingMemoryBound(to: Double.self)
    }

    public var floats: [Float] {
        switch dtype {
        case .float32: return withUnsafeBufferPointer(as: Float.self) { Array($0) }
        case .float64: return withUnsafeBufferPointer(as: Double.self) { $0.map { Float($0) } }
        }
    }

    public var doubles: [Double] {
        switch dtype {
        case .float32: return withUnsafeBufferPointer(as: Float.self) { $0.map { Double($0) } }
        case .float64: return withUnsafeBufferPointer(as: Double.self) { Array($0) }
        }
    }

    /// The single element of a scalar or one-element tensor.
    public var scalarValue: Double { doubles[0] }

    // MARK: Reshaping (no copy)

    public func reshaped(_ newShape: [Int], layout newLayout: Layout = .plain) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        // A blocked tensor's elements are not in row-major order: reinterpreting them would
        // scramble channels silently. Reorder to NHWC first (ComputeEngine.reordered).
        precondition((layout == .nChw16c) == (newLayout == .nChw16c) && (layout != .nChw16c || newShape == shape),
                     "cannot reshape a \(layout) tensor to \(newLayout) \(newShape)")
        var t = self
        t.shape = newShape
        t.layout = newLayout
        return t
    }

    public func converted(to target: DType) -> Tensor {
        if target == dtype { return self }
        switch target {
        case .float32: return Tensor(shape: shape, scalars: floats, layout: layout)
        case .float64: return Tensor(shape: shape, scalars: doubles, layout: layout)
        }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = doubles.prefix(8).map { String(format: "%.5g", $0) }.joined(separator: ", ")
        return "Tensor<\(dtype)>(\(shape), \(layout)) [\(head)\(count > 8 ? ", …" : "")]"
    }
}
