import CDNNL
import Foundation

/// Evaluation-mode convolution with the batch norm that follows it folded in: a bias per
/// output channel, an optional residual added in place (oneDNN's sum post-op) and an
/// optional ReLU (eltwise post-op), in one pass over the output. Teacher forwards and test
/// evaluation run through it, which is why it has no backward.
extension ComputeEngine {
    /// y = [relu](conv(x, W) + b [+ residual]) for `x` (NHWC or nChw16c), OIHW `W`, bias [O];
    /// y and the residual are in `outputLayout`.
    public func conv2dInference(_ input: Tensor, weight: Tensor, bias: Tensor, stride: Int, padding: Int,
                                residual: Tensor?, relu: Bool, outputLayout: Layout = .nhwc) throws -> Tensor {
        let blockable = { (layout: Layout, channels: Int) in layout == .nhwc || layout == .nChw16c && channels % 16 == 0 }
        guard input.rank == 4, weight.rank == 4, blockable(input.layout, input.shape[3]), weight.layout == .oihw, input.shape[3] == weight.shape[1],
              blockable(outputLayout, weight.shape[0]), bias.count == weight.shape[0], input.dtype == weight.dtype, bias.dtype == input.dtype else {
            throw KernelError.invalidArgument("conv2dInference: input \(input.shape) \(input.layout), weight \(weight.shape) \(weight.layout), bias \(bias.shape), output \(outputLayout)")
        }
        let g = Conv2DGeometry(input: input.shape, weight: weight.shape, stride: stride, padding: padding)
        try g.validate()
        if let residual, residual.shape != g.outputShape || residual.dtype != input.dtype || residual.layout != outputLayout {
            throw KernelError.invalidArgument("conv2dInference: residual \(residual.shape) \(residual.layout) for output \(g.outputShape) \(outputLayout)")
        }
        let onDNNL = !(usesReference(input.dtype) || g.batch * g.outHeight * g.outWidth * g.outChannels == 0 || g.inChannels == 0
                       || runsDirect3x3(g) || runsWinograd16(g))
        if (input.layout != .nhwc || outputLayout != .nhwc) && !onDNNL {
            let out = try conv2dInference(reordered(input, to: .nhwc), weight: weight, bias: bias, stride: stride, padding: padding,
                                          residual: residual.map { try reordered($0, to: .nhwc) }, relu: relu)
            return try reordered(out, to: outputLayout)
        }
        var out = Tensor(uninitialized: g.outputShape, dtype: input.dtype, layout: outputLayout)
        if usesReference(input.dtype) || out.count == 0 || g.inChannels == 0 {
            ReferenceConvolution.forward(input, weight, &out, g)
            switch input.dtype {
            case .float32: Reference.biasResidualReLU(Float.self, &out, bias, residual, relu)
            case .float64: Reference.biasResidualReLU(Double.self, &out, bias, residual, relu)
            }
        } else if runsDirect3x3(g) {
            try direct3x3Forward(input.storage.raw, oihw: weight.storage.raw, bias: bias.storage.raw, residual: residual?.storage.raw,
                                 relu: relu, into: out.storage.raw, g)
        } else if runsWinograd16(g) {
            try winograd16Forward(input.storage.raw, oihw: weight.storage.raw, bias: bias.storage.raw, residual: residual?.storage.raw,
                                  relu: relu, into: out.storage.raw, g)
        } else {
            let winograd = runsWinograd(g)
            let layouts = "\(input.layout.rawValue)>\(outputLayout.rawValue)"
            let key = "conv2d_inference|\(g)|sum=\(residual != nil)|relu=\(relu)|\(layouts)|\(winograd ? "winograd" : "direct")"
            let plan: FusedConvPrimitive
            if let cached = primitiveCache[key] as? FusedConvPrimitive { plan = cached } else {
                // As in training, a geometry the Winograd kernels turn down runs direct.
                plan = try (winograd ? try? FusedConvPrimitive(g, sum: residual != nil, relu: relu, engine: dnnlEngine, winograd: true,
                                                               source: input.layout, destination: outputLayout) : nil)
                    ?? FusedConvPrimitive(g, sum: residual != nil, relu: relu, engine: dnnlEngine, source: input.layout, destination: outputLayout)
                primitiveCache[key] = plan
            }
            try plan.run(self, input: input.storage.raw, weight: weight.storage.raw, bias: bias.storage.raw, residual: residual?.storage.raw,
                         out: out.storage.raw)
        }
        record("conv2d.inference", inputs: [input, weight, bias] + (residual.map { [$0] } ?? []), output: out,
               attributes: ["stride": Double(stride), "padding": Double(padding), "relu": relu ? 1 : 0])
        return out
    }
}

extension Reference {
    static func biasResidualReLU<T: KernelScalar>(_: T.Type, _ out: inout Tensor, _ bias: Tensor, _ residual: Tensor?, _ relu: Bool) {
        let po = out.mutableScalars(T.self), pb = bias.scalars(T.self)
        let r = residual?.scalars(T.self)
        let c = pb.count
        for i in 0..<po.count {
            var v = po[i] + pb[i % c]
            if let r { v += r[i] }
            po[i] = relu ? max(v, 0) : v
        }
    }
}

/// The cached forward-inference primitive of one geometry and epilogue, with a reorder of
/// the plain OIHW weights into the layout oneDNN chose.
final class FusedConvPrimitive: ResidentPrimitive {
    let conv: DNNLOp
    private let src: DNNLMemory, plainWeights: DNNLMemory, bias: DNNLMemory, dst: DNNLMemory
    private let weights: DNNLMemory?
    private let reorder: DNNLOp?
    /// The direct kernels' weight reorder as an offset table (WeightLayoutMap.swift).
    private let weightMap: WeightLayoutMap?
    private let weightsLayout: dnnl_memory_desc_t
    /// The offset table and the layout it maps to, if this primitive uses one.
    var mappedWeights: (WeightLayoutMap, dnnl_memory_desc_t)? { weightMap.map { ($0, weightsLayout) } }
    /// Winograd only (WinogradConvolution.swift): src and dst live in oneDNN's blocked layout.
    /// A caller's NHWC input is reordered in; for an NHWC output the residual (if any) is
    /// reordered into a blocked dst for the sum post-op and the result reordered out.
    /// Arguments the caller gives blocked are bound directly and need neither.
    private let blockedSource: (copy: DNNLMemory, user: DNNLMemory, reorderIn: DNNLOp)?
    private let blockedDestination: (copy: DNNLMemory, userResidual: DNNLMemory, userDst: DNNLMemory, residualIn: DNNLOp?, reorderOut: DNNLOp)?
    /// Winograd only: oneDNN's weight transform costs ~0.4 ms a call, and a teacher's or an
    /// evaluation's weights do not change between calls, so transformed weights are kept by
    /// content: a digest of the plain weights, confirmed by comparing a copy of them byte for
    /// byte, so a hit is exactly what the transform would give. One primitive serves every
    /// layer of its geometry, hence several entries; the oldest goes first beyond the limit.
    private var transformedWeights: [(digest: UInt64, plain: UnsafeMutableRawPointer, transformed: UnsafeMutableRawPointer)] = []
    private let transformedByteCount: Int
    private let plainWeightsBytes: Int, outputBytes: Int
    private static let transformedWeightsLimit = 32

    init(_ g: Conv2DGeometry, sum: Bool, relu: Bool, engine: dnnl_engine_t, winograd: Bool = false,
         source: Layout = .nhwc, destination: Layout = .nhwc) throws {
        // Logical dimensions in oneDNN's order (N, C, H, W); the tag gives the memory layout.
        let dstDims = [g.batch, g.outChannels, g.outHeight, g.outWidth]
        let descs = try convolutionActivationDescs(g, source: source, destination: destination, winograd: winograd)
        let userSrcMD = descs.userSource, userDstMD = descs.userDestination
        var srcMD = descs.source, dstMD = descs.destination
        var anyWeightsMD = try dnnlMemoryDesc(g.weightShape, dnnl_format_tag_any)
        var biasMD = try dnnlMemoryDesc([g.outChannels], dnnl_a)
        let plainWeightsMD = try dnnlMemoryDesc(g.weightShape, dnnl_oihw)
        let strides: [Int64] = [Int64(g.stride), Int64(g.stride)]
        let pad: [Int64] = [Int64(g.padding), Int64(g.padding)]

        var postOps: dnnl_post_ops_t?
        try dnnlCheck(dnnl_post_ops_create(&postOps), "dnnl_post_ops_create")
        defer { dnnl_post_ops_destroy(postOps) }
        if sum { try dnnlCheck(dnnl_post_ops_append_sum(postOps, 1), "dnnl_post_ops_append_sum") }
        if relu { try dnnlCheck(dnnl_post_ops_append_eltwise(postOps, 1, dnnl_eltwise_relu, 0, 0), "dnnl_post_ops_append_eltwise") }

        let pd: dnnl_primitive_desc_t = try withUserScratchpadAttr { attr in
            try dnnlCheck(dnnl_primitive_attr_set_post_ops(attr, postOps), "dnnl_primitive_attr_set_post_ops")
            var lastStatus = dnnl_success
            for alg in winograd ? [dnnl_convolution_winograd] : [dnnl_convolution_direct, dnnl_convolution_auto] {
                var desc = dnnl_convolution_desc_t()
                lastStatus = dnnl_convolution_forward_desc_init(&desc, dnnl_forward_inference, alg, &srcMD, &anyWeightsMD, &biasMD, &dstMD, strides, pad, pad)
                guard lastStatus == dnnl_success else { continue }
                var pd: dnnl_primitive_desc_t?
                lastStatus = dnnl_primitive_desc_create(&pd, &desc, attr, engine, nil)
                if lastStatus == dnnl_success, let pd { return pd }
            }
            throw KernelError.dnnl(call: "fused inference convolution for \(g)", status: Int32(lastStatus.rawValue))
        }
        var pdOwned = true
        do {
            guard let chosenMD = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0) else {
                throw KernelError.dnnl(call: "dnnl_primitive_desc_query_md(weights)", status: Int32(dnnl_runtime_error.rawValue))
            }
            var chosen = chosenMD.pointee, plain = plainWeightsMD
            let needsReorder = dnnl_memory_desc_equal(&chosen, &plain) == 0
            plainWeights = try DNNLMemory(plainWeightsMD, engine: engine, allocate: false)
            bias = try DNNLMemory(biasMD, engine: engine, allocate: false)
            guard var chosenSrc = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0)?.pointee,
                  var chosenDst = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0)?.pointee else {
                throw KernelError.dnnl(call: "dnnl_primitive_desc_query_md(src/dst)", status: Int32(dnnl_runtime_error.rawValue))
            }
            var userSrc = userSrcMD, userDst = userDstMD
            if dnnl_memory_desc_equal(&chosenSrc, &userSrc) != 0 {
                src = try DNNLMemory(userSrcMD, engine: engine, allocate: false)
                blockedSource = nil
            } else {
                src = try DNNLMemory(chosenSrc, engine: engine, allocate: true)
                let user = try DNNLMemory(userSrcMD, engine: engine, allocate: false)
                blockedSource = (src, user, try dnnlReorder(from: user, userSrcMD, to: src, chosenSrc, engine: engine))
            }
            if dnnl_memory_desc_equal(&chosenDst, &userDst) != 0 {
                dst = try DNNLMemory(userDstMD, engine: engine, allocate: false)
                blockedDestination = nil
            } else {
                dst = try DNNLMemory(chosenDst, engine: engine, allocate: true)
                let userResidual = try DNNLMemory(userDstMD, engine: engine, allocate: false)
                let userDst = try DNNLMemory(userDstMD, engine: engine, allocate: false)
                blockedDestination = (dst, userResidual, userDst,
                                      sum ? try dnnlReorder(from: userResidual, userDstMD, to: dst, chosenDst, engine: engine) : nil,
                                      try dnnlReorder(from: dst, chosenDst, to: userDst, userDstMD, engine: engine))
            }
            let ownWeights = needsReorder ? try DNNLMemory(chosen, engine: engine, allocate: true) : nil
            weights = ownWeights
            transformedByteCount = winograd && needsReorder ? dnnl_memory_desc_get_size(&chosen) : 0
            weightMap = needsReorder && transformedByteCount == 0 ? WeightLayoutMap(chosen) : nil
            weightsLayout = chosen
            plainWeightsBytes = g.weightShape.reduce(1, *) * 4
            outputBytes = dstDims.reduce(1, *) * 4
            pdOwned = false
            conv = try DNNLOp(pd: pd, engine: engine, args: [(DNNL_ARG_SRC, src), (DNNL_ARG_WEIGHTS, ownWeights ?? plainWeights),
                                                             (DNNL_ARG_BIAS, bias), (DNNL_ARG_DST, dst)])
            if let ownWeights, weightMap == nil {
                reorder = try dnnlReorder(from: plainWeights, plainWeightsMD, to: ownWeights, chosen, engine: engine)
            } else {
                reorder = nil
            }
        } catch {
            if pdOwned { dnnl_primitive_desc_destroy(pd) }
            throw error
        }
    }

    /// Points `weights` at the transform of `weight`: a kept one, or a new one made now.
    private func bindTransformedWeights(_ weight: UnsafeMutableRawPointer, _ weights: DNNLMemory, _ reorder: DNNLOp,
                                        _ engine: ComputeEngine) throws {
        let bytes = plainWeightsBytes
        let digest = Digest.bytes(weight, count: bytes)
        if let kept = transformedWeights.first(where: { $0.digest == digest && memcmp($0.plain, weight, bytes) == 0 }) {
            try weights.bind(kept.transformed)
            return
        }
        let plain = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        let transformed = UnsafeMutableRawPointer.allocate(byteCount: transformedByteCount, alignment: 64)
        plain.copyMemory(from: weight, byteCount: bytes)
        do {
            try weights.bind(transformed)
            try reorder.execute(engine.dnnlStream)
        } catch {
            plain.deallocate()
            transformed.deallocate()
            throw error
        }
        transformedWeights.append((digest, plain, transformed))
        if transformedWeights.count > Self.transformedWeightsLimit {
            let oldest = transformedWeights.removeFirst()
            oldest.plain.deallocate()
            oldest.transformed.deallocate()
        }
    }

    var residentBytes: Int {
        conv.scratchpadByteCount + (weights?.ownedByteCount ?? 0) + (reorder?.scratchpadByteCount ?? 0)
            + src.ownedByteCount + dst.ownedByteCount + transformedWeights.count * (plainWeightsBytes + transformedByteCount)
    }

    deinit {
        for kept in transformedWeights {
            kept.plain.deallocate()
            kept.transformed.deallocate()
        }
    }

    /// The sum post-op adds what the dst holds: the residual is copied (direct) or reordered
    /// (Winograd) into it first.
    func run(_ engine: ComputeEngine, input: UnsafeMutableRawPointer, weight: UnsafeMutableRawPointer,
             bias biasPointer: UnsafeMutableRawPointer, residual: UnsafeMutableRawPointer?, out: UnsafeMutableRawPointer) throws {
        try plainWeights.bind(weight)
        try bias.bind(biasPointer)
        if let weightMap, let blocked = weights?.ownedPointer {
            weightMap.scatter(plain: weight, into: blocked)
        } else if let reorder {
            if transformedByteCount > 0, let weights {
                try bindTransformedWeights(weight, weights, reorder, engine)
            } else {
                try reorder.execute(engine.dnnlStream)
            }
        }
        if let blockedSource {
            try blockedSource.user.bind(input)
            try blockedSource.reorderIn.execute(engine.dnnlStream)
        } else {
            try src.bind(input)
        }
        if let blockedDestination {
            try blockedDestination.userDst.bind(out)
            if let residual, let residualIn = blockedDestination.residualIn {
                try blockedDestination.userResidual.bind(residual)
                try residualIn.execute(engine.dnnlStream)
            }
            try conv.execute(engine.dnnlStream)
            try blockedDestination.reorderOut.execute(engine.dnnlStream)
        } else {
            try dst.bind(out)
            if let residual { out.copyMemory(from: residual, byteCount: outputBytes) }
            try conv.execute(engine.dnnlStream)
        }
    }
}
