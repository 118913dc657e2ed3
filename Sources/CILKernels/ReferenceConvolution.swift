// Portable convolution loops, generic over the element type: in float64 they back the
// gradient checks, in float32 they are the `.reference` kernel path. One implementation
// serves both so that the two precisions cannot drift apart.

enum ReferenceConvolution {
    static func forward(_ x: Tensor, _ w: Tensor, _ y: inout Tensor, _ g: Conv2DGeometry) {
        switch x.dtype {
        case .float32: forward(x.storage.raw.assumingMemoryBound(to: Float.self), w.storage.raw.assumingMemoryBound(to: Float.self),
                               y.floatPointer, g)
        case .float64: forward(x.storage.raw.assumingMemoryBound(to: Double.self), w.storage.raw.assumingMemoryBound(to: Double.self),
                               y.doublePointer, g)
        }
    }

    static func backwardData(_ dy: Tensor, _ w: Tensor, _ dx: inout Tensor, _ g: Conv2DGeometry) {
        switch dy.dtype {
        case .float32: backwardData(dy.storage.raw.assumingMemoryBound(to: Float.self), w.storage.raw.assumingMemoryBound(to: Float.self),
                                    dx.floatPointer, g)
        case .float64: backwardData(dy.storage.raw.assumingMemoryBound(to: Double.self), w.storage.raw.assumingMemoryBound(to: Double.self),
                                    dx.doublePointer, g)
        }
    }

    static func backwardWeights(_ dy: Tensor, _ x: Tensor, _ dw: inout Tensor, _ g: Conv2DGeometry) {
        switch dy.dtype {
        case .float32: backwardWeights(dy.storage.raw.assumingMemoryBound(to: Float.self), x.storage.raw.assumingMemoryBound(to: Float.self),
                                       dw.floatPointer, g)
        case .float64: backwardWeights(dy.storage.raw.assumingMemoryBound(to: Double.self), x.storage.raw.assumingMemoryBound(to: Double.self),
                                       dw.doublePointer, g)
        }
    }

    /// The kernel taps of output position `o` that land inside the input (empty if none do).
    @inline(__always)
    private static func taps(_ o: Int, stride: Int, padding: Int, kernel: Int, size: Int) -> Range<Int> {
        let start = o * stride - padding
        let lower = max(0, -start)
        return lower..<max(lower, min(kernel, size - start))
    }

    /// y[n,oh,ow,o] = Σ_{kh,kw,c} x[n, oh·s−p+kh, ow·s−p+kw, c] · w[o,c,kh,kw], taps in the padding skipped.
    static func forward<T: BinaryFloatingPoint>(_ x: UnsafePointer<T>, _ w: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ g: Conv2DGeometry) {
        let (C, O, KH, KW) = (g.inChannels, g.outChannels, g.kernelHeight, g.kernelWidth)
        let (OH, OW) = (g.outHeight, g.outWidth)
        // Weights as [KH][KW][C][O], so the innermost loop runs over contiguous output channels.
        let wt = UnsafeMutablePointer<T>.allocate(capacity: max(KH * KW * C * O, 1))
        defer { wt.deallocate() }
        for o in 0..<O { for c in 0..<C { for kh in 0..<KH { for kw in 0..<KW {
            wt[((kh * KW + kw) * C + c) * O + o] = w[((o * C + c) * KH + kh) * KW + kw]
        } } } }
        for n in 0..<g.batch {
            for oh in 0..<OH {
                let khRange = taps(oh, stride: g.stride, padding: g.padding, kernel: KH, size: g.height)
                for ow in 0..<OW {
                    let kwRange = taps(ow, stride: g.stride, padding: g.padding, kernel: KW, size: g.width)
                    let yRow = y + ((n * OH + oh) * OW + ow) * O
                    yRow.update(repeating: 0, count: O)
                    for kh in khRange {
                        let ih = oh * g.stride - g.padding + kh
                        for kw in kwRange {
                            let iw = ow * g.stride - g.padding + kw
                            let xRow = x + ((n * g.height + ih) * g.width + iw) * C
                            let wTap = wt + (kh * KW + kw) * C * O
                            for c in 0..<C {
                                let xv = xRow[c]
                                let wRow = wTap + c * O
                                for o in 0..<O { yRow[o] += xv * wRow[o] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of `forward` in x: each output gradient is scattered back through the taps it read.
    static func backwardData<T: BinaryFloatingPoint>(_ dy: UnsafePointer<T>, _ w: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, _ g: Conv2DGeometry) {
        let (C, O, KH, KW) = (g.inChannels, g.outChannels, g.kernelHeight, g.kernelWidth)
        let (OH, OW) = (g.outHeight, g.outWidth)
        // Weights as [KH][KW][O][C], so the innermost loop runs over contiguous input channels.
        let wt = UnsafeMutablePointer<T>.allocate(capacity: max(KH * KW * C * O, 1))
        defer { wt.deallocate() }
        for o in 0..<O { for c in 0..<C { for kh in 0..<KH { for kw in 0..<KW {
            wt[((kh * KW + kw) * O + o) * C + c] = w[((o * C + c) * KH + kh) * KW + kw]
        } } } }
        dx.update(repeating: 0, count: g.batch * g.height * g.width * C)
        for n in 0..<g.batch {
            for oh in 0..<OH {
                let khRange = taps(oh, stride: g.stride, padding: g.padding, kernel: KH, size: g.height)
                for ow in 0..<OW {
                    let kwRange = taps(ow, stride: g.stride, padding: g.padding, kernel: KW, size: g.width)
                    let dyRow = dy + ((n * OH + oh) * OW + ow) * O
                    for kh in khRange {
                        let ih = oh * g.stride - g.padding + kh
                        for kw in kwRange {
                            let iw = ow * g.stride - g.padding + kw
                            let dxRow = dx + ((n * g.height + ih) * g.width + iw) * C
                            let wTap = wt + (kh * KW + kw) * O * C
                            for o in 0..<O {
                                let gv = dyRow[o]
                                let wRow = wTap + o * C
                                for c in 0..<C { dxRow[c] += gv * wRow[c] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of `forward` in w: dw[o,c,kh,kw] = Σ_{n,oh,ow} dy[n,oh,ow,o] · x[n, oh·s−p+kh, ow·s−p+kw, c].
    static func backwardWeights<T: BinaryFloatingPoint>(_ dy: UnsafePointer<T>, _ x: UnsafePointer<T>, _ dw: UnsafeMutablePointer<T>, _ g: Conv2DGeometry) {
        let (C, O, KH, KW) = (g.inChannels, g.outChannels, g.kernelHeight, g.kernelWidth)
        let (OH, OW) = (g.outHeight, g.outWidth)
        // Accumulate as [KH][KW][O][C] (contiguous in c, like the NHWC input rows), then transpose.
        let acc = UnsafeMutablePointer<T>.allocate(capacity: max(KH * KW * C * O, 1))
        defer { acc.deallocate() }
        acc.initialize(repeating: 0, count: KH * KW * C * O)
        for n in 0..<g.batch {
            for oh in 0..<OH {
                let khRange = taps(oh, stride: g.stride, padding: g.padding, kernel: KH, size: g.height)
                for ow in 0..<OW {
                    let kwRange = taps(ow, stride: g.stride, padding: g.padding, kernel: KW, size: g.width)
                    let dyRow = dy + ((n * OH + oh) * OW + ow) * O
                    for kh in khRange {
                        let ih = oh * g.stride - g.padding + kh
                        for kw in kwRange {
                            let iw = ow * g.stride - g.padding + kw
                            let xRow = x + ((n * g.height + ih) * g.width + iw) * C
                            let aTap = acc + (kh * KW + kw) * O * C
                            for o in 0..<O {
                                let gv = dyRow[o]
                                let aRow = aTap + o * C
                                for c in 0..<C { aRow[c] += gv * xRow[c] }
                            }
                        }
                    }
                }
            }
        }
        for o in 0..<O { for c in 0..<C { for kh in 0..<KH { for kw in 0..<KW {
            dw[((o * C + c) * KH + kh) * KW + kw] = acc[((kh * KW + kw) * O + o) * C + c]
        } } } }
    }
}
