import Foundation

/// The element types kernels are written for once, generically: Float for training and
/// Double for the reference path and finite-difference checks.
public protocol KernelScalar: BinaryFloatingPoint, Sendable {
    static var dtype: DType { get }
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func log1p(_ x: Self) -> Self
}

extension Float: KernelScalar {
    public static var dtype: DType { .float32 }
    @inline(__always) public static func exp(_ x: Float) -> Float { Foundation.expf(x) }
    @inline(__always) public static func log(_ x: Float) -> Float { Foundation.logf(x) }
    @inline(__always) public static func log1p(_ x: Float) -> Float { Foundation.log1pf(x) }
}

extension Double: KernelScalar {
    public static var dtype: DType { .float64 }
    @inline(__always) public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    @inline(__always) public static func log(_ x: Double) -> Double { Foundation.log(x) }
    @inline(__always) public static func log1p(_ x: Double) -> Double { Foundation.log1p(x) }
}

extension Tensor {
    /// Read-only view typed by a generic scalar parameter.
    @inlinable
    public func scalars<T: KernelScalar>(_: T.Type) -> UnsafeBufferPointer<T> {
        precondition(T.dtype == dtype, "tensor is \(dtype), accessed as \(T.self)")
        return UnsafeBufferPointer(start: storage.raw.assumingMemoryBound(to: T.self), count: count)
    }

    /// Writable view of a tensor this kernel just created and owns exclusively.
    @inlinable
    public func mutableScalars<T: KernelScalar>(_: T.Type) -> UnsafeMutableBufferPointer<T> {
        precondition(T.dtype == dtype, "tensor is \(dtype), accessed as \(T.self)")
        return UnsafeMutableBufferPointer(start: storage.raw.assumingMemoryBound(to: T.self), count: count)
    }
}
