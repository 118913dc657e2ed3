import CConv3x3

/// How fast this machine can multiply-add at most, and how much convolution work a step
/// really holds: together they give the floor under any step time, the figure that says
/// whether a speed target is reachable at all (`cilbench bench --roofline`).
public struct FMAPeak: Sendable {
    /// Sum over the engine's threads, each measured while the others run too (cores of
    /// one socket share power and clock, and two vCPUs may be one core's two threads).
    public var gflops: Double
    public var perThread: [Double]
    /// 512 when AVX-512 FMAs were the faster, 256 for AVX2, 0 without FMA.
    public var vectorBits: Int
}

extension ComputeEngine {
    /// Runs the FMA loop on every thread of the engine's team at once for about `seconds`.
    public func measureFMAPeak(seconds: Double = 0.5) -> FMAPeak {
        let n = threads
        let rates = UnsafeMutablePointer<Double>.allocate(capacity: n)
        let widths = UnsafeMutablePointer<Int32>.allocate(capacity: n)
        defer { rates.deallocate(); widths.deallocate() }
        rates.initialize(repeating: 0, count: n)
        widths.initialize(repeating: 0, count: n)
        parallelChunks(n, threads: n) { range in
            for k in range { rates[k] = cil_fma_peak_gflops(seconds, widths + k) }
        }
        let perThread = Array(UnsafeBufferPointer(start: rates, count: n))
        return FMAPeak(gflops: perThread.reduce(0, +), perThread: perThread, vectorBits: Int(widths[0]))
    }
}

/// Counts the multiply-adds of the convolution calls it observes, per kernel kind, over the
/// taps that fall inside the image only: padding taps multiply zeros, kernels may skip them,
/// and a floor must not count work that need not be done. Backward-data and
/// backward-weights of a layer do as many as its forward.
public final class ConvolutionWorkCounter: KernelObserver {
    public private(set) var multiplyAdds: [String: Double] = [:]
    public var wantsDigests: Bool { false }
    public var wantsAttributes: Bool { true }

    public init() {}

    public var total: Double { multiplyAdds.values.reduce(0, +) }

    public func kernelDidRun(_ record: KernelRecord) {
        let s = record.shapes
        let input: [Int], weight: [Int]
        switch record.kind {
        case "conv2d.forward", "conv2d.inference": (input, weight) = (s[0], s[1])
        case "conv2d.backward_data": (input, weight) = (s[2], s[1])
        case "conv2d.backward_weights": (input, weight) = (s[1], s[2])
        default: return
        }
        guard input.count == 4, weight.count == 4, let stride = record.attributes["stride"], let padding = record.attributes["padding"] else { return }
        let g = Conv2DGeometry(input: input, weight: weight, stride: Int(stride), padding: Int(padding))
        multiplyAdds[record.kind, default: 0] += g.inImageMultiplyAdds
    }
}

extension Conv2DGeometry {
    /// Multiply-adds over the taps that land inside the (unpadded) input.
    public var inImageMultiplyAdds: Double {
        func taps(_ size: Int, _ kernel: Int, _ outSize: Int) -> Int {
            var n = 0
            for o in 0..<outSize {
                for t in 0..<kernel where (0..<size).contains(o * stride - padding + t) { n += 1 }
            }
            return n
        }
        return Double(batch) * Double(taps(height, kernelHeight, outHeight)) * Double(taps(width, kernelWidth, outWidth))
            * Double(inChannels) * Double(outChannels)
    }
}
