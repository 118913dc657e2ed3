// 2-d convolution without bias: NHWC (or, in the Winograd engine's residual stages,
// nChw16c: BlockedLayout.swift) activations, OIHW weights. Float32 runs oneDNN's
// direct kernels (or, opted in, our own AVX2 kernels for 3x3 stride-1 layers:
// DirectConvolution.swift); float64, and float32 on the reference path,
// run the portable loops in ReferenceConvolution.swift, which define the result.
import CDNNL

/// Shape of one convolution, from which every derived size follows. Padding is symmetric
/// and the output size rounds down, as in PyTorch.
public struct Conv2DGeometry: Hashable, Sendable, CustomStringConvertible {
    public var batch, height, width, inChannels, outChannels, kernelHeight, kernelWidth, stride, padding: Int

    public var outHeight: Int { (height + 2 * padding - kernelHeight) / stride + 1 }
    public var outWidth: Int { (width + 2 * padding - kernelWidth) / stride + 1 }

    /// `input` is an NHWC shape, `weight` an OIHW shape. Sizes are checked (with a thrown
    /// `KernelError`) by the kernels that take the geometry, not here.
    public init(input: [Int], weight: [Int], stride: Int, padding: Int) {
        precondition(input.count == 4 && weight.count == 4, "conv2d shapes must be NHWC and OIHW, got \(input) and \(weight)")
        batch = input[0]; height = input[1]; width = input[2]; inChannels = input[3]
        outChannels = weight[0]; kernelHeight = weight[2]; kernelWidth = weight[3]
        self.stride = stride
        self.padding = padding
    }

    /// Throws for geometries no kernel can run. A thrown error rather than a precondition:
    /// this module builds with -Ounchecked, where preconditions are not evaluated, and a bad
    /// geometry would index out of bounds.
    func validate() throws {
        let sizes = [batch, height, width, inChannels, outChannels]
        try requireConv(sizes.allSatisfy { $0 >= 0 } && kernelHeight >= 1 && kernelWidth >= 1 && stride >= 1 && padding >= 0,
                        "conv2d geometry \(self) has a negative size, an empty kernel or stride < 1")
        try requireConv(height + 2 * padding >= kernelHeight && width + 2 * padding >= kernelWidth,
                        "conv2d kernel larger than the padded input in \(self)")
    }

    public var inputShape: [Int] { [batch, height, width, inChannels] }
    public var weightShape: [Int] { [outChannels, inChannels, kernelHeight, kernelWidth] }
    public var outputShape: [Int] { [batch, outHeight, outWidth, outChannels] }

    /// Nominal multiply-adds times two, padding taps included (the PyTorch flop-counter
    /// convention). Backward-data and backward-weights cost the same nominal amount.
    public var flopsForward: Double {
        2.0 * Double(batch) * Double(outChannels) * Double(outHeight) * Double(outWidth)
            * Double(inChannels) * Double(kernelHeight) * Double(kernelWidth)
    }

    public var description: String {
        "\(batch)x\(height)x\(width)x\(inChannels)->\(outChannels) k\(kernelHeight)x\(kernelWidth) s\(stride) p\(padding)"
    }
}

/// Activation layouts a convolution takes and gives.
private func checkActivationLayout(_ layout: Layout, channels: Int, _ name: String) throws {
    try requireConv(layout == .nhwc || layout == .nChw16c && channels % 16 == 0,
                    "conv2d \(name) must be NHWC, or nChw16c with a multiple of 16 channels; got \(layout) with \(channels) channels")
}

extension ComputeEngine {
    /// Whether a convolution of this geometry runs on oneDNN, which reads and writes the
    /// blocked layout natively; the other paths see NHWC copies.
    private func runsOnDNNL(_ g: Conv2DGeometry, _ dtype: DType) -> Bool {
        !usesReference(dtype) && g.batch * g.outHeight * g.outWidth * g.outChannels > 0 && g.inChannels > 0 && !runsDirect3x3(g) && !runsWinograd16(g)
    }

    /// Convolution of an NHWC or nChw16c input with OIHW weights; returns `[N, OH, OW, O]`
    /// in `outputLayout`.
    public func conv2dForward(_ input: Tensor, weight: Tensor, stride: Int, padding: Int, outputLayout: Layout = .nhwc) throws -> Tensor {
        try requireConv(weight.layout == .oihw, "conv2d wants OIHW weight, got \(weight.layout)")
        try requireConv(input.dtype == weight.dtype, "conv2d input is \(input.dtype), weight \(weight.dtype)")
        try requireConv(input.rank == 4 && weight.rank == 4 && input.shape[3] == weight.shape[1],
                        "conv2d input \(input.shape) (NHWC) and weight \(weight.shape) (OIHW) do not fit")
        try checkActivationLayout(input.layout, channels: input.shape[3], "input")
        try checkActivationLayout(outputLayout, channels: weight.shape[0], "output")
        let g = Conv2DGeometry(input: input.shape, weight: weight.shape, stride: stride, padding: padding)
        try g.validate()
        if (input.layout != .nhwc || outputLayout != .nhwc) && !runsOnDNNL(g, input.dtype) {
            let out = try conv2dForward(reordered(input, to: .nhwc), weight: weight, stride: stride, padding: padding)
            return try reordered(out, to: outputLayout)
        }
        var out = Tensor(uninitialized: g.outputShape, dtype: input.dtype, layout: outputLayout)
        if usesReference(input.dtype) || out.count == 0 || g.inChannels == 0 {
            ReferenceConvolution.forward(input, weight, &out, g)
        } else if runsDirect3x3(g) {
            try direct3x3Forward(input.storage.raw, oihw: weight.storage.raw, bias: nil, residual: nil, relu: false, into: out.storage.raw, g)
        } else if runsWinograd16(g) {
            try winograd16Forward(input.storage.raw, oihw: weight.storage.raw, bias: nil, residual: nil, relu: false, into: out.storage.raw, g)
        } else {
            let plan = try convPrimitive(g, .forward, source: input.layout, destination: outputLayout)
            try plan.run(self, a: input.storage.raw, b: weight.storage.raw, out: out.storage.raw)
        }
        record("conv2d.forward", inputs: [input, weight], output: out, attributes: ["stride": Double(stride), "padding": Double(padding)])
        return out
    }

    /// Gradient with respect to the input (`geometry.inputShape` in `inputLayout`), given the
    /// gradient of the output (NHWC or nChw16c) and the OIHW weights.
    public func conv2dBackwardData(_ gradOutput: Tensor, weight: Tensor, geometry g: Conv2DGeometry, inputLayout: Layout = .nhwc) throws -> Tensor {
        try g.validate()
        try requireConv(weight.layout == .oihw, "conv2d backward-data wants OIHW weight, got \(weight.layout)")
        try requireConv(gradOutput.shape == g.outputShape, "conv2d gradOutput \(gradOutput.shape) does not match \(g)")
        try requireConv(weight.shape == g.weightShape, "conv2d weight \(weight.shape) does not match \(g)")
        try requireConv(gradOutput.dtype == weight.dtype, "conv2d gradOutput is \(gradOutput.dtype), weight \(weight.dtype)")
        try checkActivationLayout(gradOutput.layout, channels: g.outChannels, "gradOutput")
        try checkActivationLayout(inputLayout, channels: g.inChannels, "input")
        if (gradOutput.layout != .nhwc || inputLayout != .nhwc) && !runsOnDNNL(g, gradOutput.dtype) {
            let out = try conv2dBackwardData(reordered(gradOutput, to: .nhwc), weight: weight, geometry: g)
            return try reordered(out, to: inputLayout)
        }
        var out = Tensor(uninitialized: g.inputShape, dtype: gradOutput.dtype, layout: inputLayout)
        if usesReference(gradOutput.dtype) || gradOutput.count == 0 || out.count == 0 {
            ReferenceConvolution.backwardData(gradOutput, weight, &out, g)
        } else if runsDirect3x3BackwardData(g) {
            try direct3x3BackwardData(gradOutput.storage.raw, oihw: weight.storage.raw, into: out.storage.raw, g)
        } else if runsWinograd16(g) {
            try winograd16BackwardData(gradOutput.storage.raw, oihw: weight.storage.raw, into: out.storage.raw, g)
        } else {
            let plan = try convPrimitive(g, .backwardData, source: inputLayout, destination: gradOutput.layout)
            try plan.run(self, a: gradOutput.storage.raw, b: weight.storage.raw, out: out.storage.raw)
        }
        record("conv2d.backward_data", inputs: [gradOutput, weight], output: out, attributes: ["stride": Double(g.stride), "padding": Double(g.padding)])
        return out
    }

    /// Gradient with respect to the weights (OIHW `geometry.weightShape`), summed over the batch.
    public func conv2dBackwardWeights(_ gradOutput: Tensor, input: Tensor, geometry g: Conv2DGeometry) throws -> Tensor {
        try g.validate()
        try requireConv(gradOutput.shape == g.outputShape, "conv2d gradOutput \(gradOutput.shape) does not match \(g)")
        try requireConv(input.shape == g.inputShape, "conv2d input \(input.shape) does not match \(g)")
        try requireConv(gradOutput.dtype == input.dtype, "conv2d gradOutput is \(gradOutput.dtype), input \(input.dtype)")
        try checkActivationLayout(gradOutput.layout, channels: g.outChannels, "gradOutput")
        try checkActivationLayout(input.layout, channels: g.inChannels, "input")
        if (gradOutput.layout != .nhwc || input.layout != .nhwc) && !runsOnDNNL(g, input.dtype) {
            return try conv2dBackwardWeights(reordered(gradOutput, to: .nhwc), input: reordered(input, to: .nhwc), geometry: g)
        }
        var out = Tensor(uninitialized: g.weightShape, dtype: input.dtype, layout: .oihw)
        if usesReference(input.dtype) || gradOutput.count == 0 || out.count == 0 {
            ReferenceConvolution.backwardWeights(gradOutput, input, &out, g)
        } else if runsDirect3x3(g) {
            try direct3x3BackwardWeights(input.storage.raw, gradOutput.storage.raw, into: out.storage.raw, g)
        } else if runsWinograd16(g) {
            try winograd16BackwardWeights(input.storage.raw, gradOutput.storage.raw, into: out.storage.raw, g)
        } else {
            let plan = try convPrimitive(g, .backwardWeights, source: input.layout, destination: gradOutput.layout)
            try plan.run(self, a: input.storage.raw, b: gradOutput.storage.raw, out: out.storage.raw)
        }
        record("conv2d.backward_weights", inputs: [gradOutput, input], output: out, attributes: ["stride": Double(g.stride), "padding": Double(g.padding)])
        return out
    }

    /// The cached oneDNN primitive for one geometry and pass, created on first use. Backward
    /// passes are created with the forward primitive descriptor as hint, as oneDNN requires.
    /// `source` and `destination` are the layouts of the convolution's input and output
    /// activations (or their gradients).
    func convPrimitive(_ g: Conv2DGeometry, _ kind: ConvPrimitive.Kind, source: Layout = .nhwc, destination: Layout = .nhwc) throws -> ConvPrimitive {
        let winograd = runsWinograd(g)
        let key = "conv2d|\(g)|\(kind.rawValue)|\(source.rawValue)>\(destination.rawValue)|\(winograd ? "winograd" : "direct")"
        if let plan = primitiveCache[key] as? ConvPrimitive { return plan }
        let hint = kind == .forward ? nil : try convPrimitive(g, .forward, source: source, destination: destination)
        // A geometry oneDNN's Winograd kernels turn down (an odd batch blocking, say) runs
        // direct; the choice depends on the shape only, so it is the same in every run.
        let plan = try (winograd ? try? ConvPrimitive(kind, g, engine: dnnlEngine, forwardHint: hint, winograd: true, source: source, destination: destination) : nil)
            ?? ConvPrimitive(kind, g, engine: dnnlEngine, forwardHint: hint, source: source, destination: destination)
        primitiveCache[key] = plan
        return plan
    }
}

/// Argument checks that survive -Ounchecked (unlike `precondition`).
@inline(__always)
private func requireConv(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw KernelError.invalidArgument(message()) }
}

// MARK: - oneDNN plumbing

/// A memory object created once and pointed at the caller's buffer before each execution
/// (setting a handle is far cheaper than creating a memory object per call).
final class DNNLMemory {
    let memory: dnnl_memory_t
    /// Owned storage when the layout is oneDNN's own (blocked weights, scratchpads).
    private let owned: UnsafeMutableRawPointer?
    /// Bytes of `owned` (0 when bound to callers' buffers).
    let ownedByteCount: Int

    init(_ desc: dnnl_memory_desc_t, engine: dnnl_engine_t, allocate: Bool) throws {
        var desc = desc
        let size = dnnl_memory_desc_get_size(&desc)
        owned = allocate ? UnsafeMutableRawPointer.allocate(byteCount: max(size, 64), alignment: 64) : nil
        ownedByteCount = allocate ? max(size, 64) : 0
        var m: dnnl_memory_t?
        do {
            try dnnlCheck(dnnl_memory_create(&m, &desc, engine, owned), "dnnl_memory_create")
        } catch {
            owned?.deallocate()
            throw error
        }
        memory = m!
    }

    /// The storage this memory owns (nil when it is bound to callers' buffers).
    var ownedPointer: UnsafeMutableRawPointer? { owned }

    @inline(__always)
    func bind(_ pointer: UnsafeMutableRawPointer) throws {
        try dnnlCheck(dnnl_memory_set_data_handle(memory, pointer), "dnnl_memory_set_data_handle")
    }

    deinit {
        dnnl_memory_destroy(memory)
        owned?.deallocate()
    }
}

/// One executable primitive with its user-mode scratchpad, allocated once so that no call
/// allocates inside oneDNN.
final class DNNLOp {
    let pd: dnnl_primitive_desc_t
    let primitive: dnnl_primitive_t
    private let scratchpad: DNNLMemory?
    private var args: [dnnl_exec_arg_t]

    /// Takes ownership of `pd`. `args` maps DNNL_ARG_* to memories that stay bound to this op.
    init(pd: dnnl_primitive_desc_t, engine: dnnl_engine_t, args: [(Int32, DNNLMemory)]) throws {
        self.pd = pd
        var p: dnnl_primitive_t?
        do {
            try dnnlCheck(dnnl_primitive_create(&p, pd), "dnnl_primitive_create")
            let spMD = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0)
            if let spMD, dnnl_memory_desc_get_size(spMD) > 0 {
                scratchpad = try DNNLMemory(spMD.pointee, engine: engine, allocate: true)
            } else {
                scratchpad = nil
            }
        } catch {
            if let p { dnnl_primitive_destroy(p) }
            dnnl_primitive_desc_destroy(pd)
            throw error
        }
        primitive = p!
        self.args = args.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1.memory) }
        if let scratchpad { self.args.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: scratchpad.memory)) }
    }

    var scratchpadByteCount: Int { scratchpad?.ownedByteCount ?? 0 }

    func execute(_ stream: dnnl_stream_t) throws {
        try dnnlCheck(dnnl_primitive_execute(primitive, stream, Int32(args.count), args), "dnnl_primitive_execute")
        try dnnlCheck(dnnl_stream_wait(stream), "dnnl_stream_wait")
    }

    var implementation: String {
        var info: UnsafePointer<CChar>?
        guard dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &info) == dnnl_success, let info else { return "?" }
        return String(cString: info)
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(pd)
    }
}

/// Attributes every cached primitive uses: a user scratchpad, owned by the DNNLOp.
func withUserScratchpadAttr<R>(_ body: (dnnl_primitive_attr_t) throws -> R) throws -> R {
    var attr: dnnl_primitive_attr_t?
    try dnnlCheck(dnnl_primitive_attr_create(&attr), "dnnl_primitive_attr_create")
    defer { dnnl_primitive_attr_destroy(attr) }
    try dnnlCheck(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "dnnl_primitive_attr_set_scratchpad_mode")
    return try body(attr!)
}

/// oneDNN's tag for an activation layout (dimensions in its N, C, H, W order).
func dnnlActivationTag(_ layout: Layout) -> dnnl_format_tag_t {
    layout == .nChw16c ? dnnl_aBcd16b : dnnl_nhwc
}

/// The user-side and compute-side memory descriptors of a convolution's activations in
/// `source` and `destination` layouts. oneDNN 2.6 has no fast kernel that reads one layout
/// and writes the other (it falls back to its reference loops), so a convolution entering
/// a blocked stage computes blocked on both sides: a 16-channel NHWC side is described as
/// nChw16c, which has the same memory order, and any other NHWC side is reordered.
/// Winograd picks its own layouts (`format_tag_any`).
func convolutionActivationDescs(_ g: Conv2DGeometry, source: Layout, destination: Layout, winograd: Bool) throws
    -> (userSource: dnnl_memory_desc_t, userDestination: dnnl_memory_desc_t, source: dnnl_memory_desc_t, destination: dnnl_memory_desc_t) {
    let srcDims = [g.batch, g.inChannels, g.height, g.width], dstDims = [g.batch, g.outChannels, g.outHeight, g.outWidth]
    let mixed = source != destination
    func user(_ dims: [Int], _ layout: Layout, _ channels: Int) throws -> dnnl_memory_desc_t {
        try dnnlMemoryDesc(dims, mixed && channels == 16 ? dnnl_aBcd16b : dnnlActivationTag(layout))
    }
    let userSource = try user(srcDims, source, g.inChannels), userDestination = try user(dstDims, destination, g.outChannels)
    if winograd {
        return (userSource, userDestination, try dnnlMemoryDesc(srcDims, dnnl_format_tag_any), try dnnlMemoryDesc(dstDims, dnnl_format_tag_any))
    }
    if mixed {
        return (userSource, userDestination, try dnnlMemoryDesc(srcDims, dnnl_aBcd16b), try dnnlMemoryDesc(dstDims, dnnl_aBcd16b))
    }
    return (userSource, userDestination, userSource, userDestination)
}

func dnnlMemoryDesc(_ dims: [Int], _ tag: dnnl_format_tag_t) throws -> dnnl_memory_desc_t {
    var md = dnnl_memory_desc_t()
    try dnnlCheck(dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), dims.map(Int64.init), dnnl_f32, tag), "dnnl_memory_desc_init_by_tag")
    return md
}

func dnnlReorder(from src: DNNLMemory, _ srcMD: dnnl_memory_desc_t, to dst: DNNLMemory, _ dstMD: dnnl_memory_desc_t,
                 engine: dnnl_engine_t) throws -> DNNLOp {
    var srcMD = srcMD, dstMD = dstMD
    var pd: dnnl_primitive_desc_t?
    try withUserScratchpadAttr { attr in
        try dnnlCheck(dnnl_reorder_primitive_desc_create(&pd, &srcMD, engine, &dstMD, engine, attr), "dnnl_reorder_primitive_desc_create")
    }
    return try DNNLOp(pd: pd!, engine: engine, args: [(DNNL_ARG_FROM, src), (DNNL_ARG_TO, dst)])
}

/// One pass (forward, backward-data or backward-weights) of one convolution geometry.
/// Activations are in the caller's layouts (NHWC or nChw16c); the weights take whatever
/// layout oneDNN picks for this pass (`format_tag_any`), with a cached reorder from or to
/// plain OIHW when that differs.
///
/// Each run binds the caller's buffers as (a, b, out):
///   forward:          a = src,      b = OIHW weights, out = dst
///   backward-data:    a = diff_dst, b = OIHW weights, out = diff_src
///   backward-weights: a = src,      b = diff_dst,     out = OIHW diff_weights
final class ConvPrimitive: ResidentPrimitive {
    enum Kind: String { case forward = "fwd", backwardData = "bwd_data", backwardWeights = "bwd_weights" }

    let kind: Kind
    let conv: DNNLOp
    /// Bound per call to the caller's activation buffers.
    private let a: DNNLMemory, out: DNNLMemory
    /// Bound per call to the caller's OIHW buffer: the weights (fwd/bwd-data) or the second
    /// activation (bwd-weights, where it is diff_dst).
    private let b: DNNLMemory
    /// Weights in the conv's own layout and the reorder to or from plain OIHW; nil when
    /// oneDNN chose plain OIHW, and the caller's buffer is then bound directly.
    private let weights: DNNLMemory?
    private let reorder: DNNLOp?
    /// The same reorder as an offset table (WeightLayoutMap.swift), used instead of
    /// `reorder` wherever the chosen layout allows.
    private let weightMap: WeightLayoutMap?
    private let weightsLayout: dnnl_memory_desc_t
    /// The offset table and the layout it maps to, if this primitive uses one.
    var mappedWeights: (WeightLayoutMap, dnnl_memory_desc_t)? { weightMap.map { ($0, weightsLayout) } }
    /// Blocked (nChw16c) copies of the caller's NHWC activations, reordered in before the
    /// conv (inputs) and out after it (output): for Winograd, and for the NHWC side of a
    /// convolution into or out of a blocked stage; none for arguments already blocked.
    private let activationReorders: (before: [DNNLOp], after: DNNLOp?)
    private let blockedActivations: [DNNLMemory]

    init(_ kind: Kind, _ g: Conv2DGeometry, engine: dnnl_engine_t, forwardHint: ConvPrimitive?, winograd: Bool = false,
         source: Layout = .nhwc, destination: Layout = .nhwc) throws {
        self.kind = kind
        // Logical dimensions in oneDNN's order (N, C, H, W); the tag gives the memory layout.
        let descs = try convolutionActivationDescs(g, source: source, destination: destination, winograd: winograd)
        let srcMD = descs.userSource, dstMD = descs.userDestination
        let plainWeightsMD = try dnnlMemoryDesc(g.weightShape, dnnl_oihw)
        let anyWeightsMD = try dnnlMemoryDesc(g.weightShape, dnnl_format_tag_any)

        let pd = winograd
            ? try Self.createPD(kind, g, src: descs.source, weights: anyWeightsMD, dst: descs.destination,
                                engine: engine, hint: forwardHint?.conv.pd, algorithms: [dnnl_convolution_winograd])
            : try Self.createPD(kind, g, src: descs.source, weights: anyWeightsMD, dst: descs.destination, engine: engine, hint: forwardHint?.conv.pd)
        // Until DNNLOp takes `pd` over, this init owns it and must free it on failure.
        var pdOwned = true
        do {
            let query = kind == .backwardWeights ? dnnl_query_diff_weights_md : dnnl_query_weights_md
            guard let chosenMD = dnnl_primitive_desc_query_md(pd, query, 0) else {
                throw KernelError.dnnl(call: "dnnl_primitive_desc_query_md(weights)", status: Int32(dnnl_runtime_error.rawValue))
            }
            var chosen = chosenMD.pointee
            var plain = plainWeightsMD
            let needsReorder = dnnl_memory_desc_equal(&chosen, &plain) == 0

            let aMD = kind == .backwardData ? dstMD : srcMD
            let outMD = kind == .backwardData ? srcMD : (kind == .forward ? dstMD : plainWeightsMD)
            let bMD = kind == .backwardWeights ? dstMD : plainWeightsMD
            let a = try DNNLMemory(aMD, engine: engine, allocate: false)
            let b = try DNNLMemory(bMD, engine: engine, allocate: false)
            let out = try DNNLMemory(outMD, engine: engine, allocate: false)
            let weights = needsReorder ? try DNNLMemory(chosen, engine: engine, allocate: true) : nil
            // The conv's weights argument: the reordered copy, or the caller's plain buffer
            // bound through `b` (fwd/bwd-data) or `out` (bwd-weights).
            let convWeights = weights ?? (kind == .backwardWeights ? out : b)

            // Activation arguments: the caller's buffers, or blocked copies (Winograd, and
            // the NHWC side of a convolution into or out of a blocked stage) with reorders
            // from (inputs) and to (output) the caller's buffers. The copies are kept here:
            // the conv's arguments hold only their raw handles.
            var before: [DNNLOp] = [], after: DNNLOp? = nil, blocked: [DNNLMemory] = []
            func blockedCopy(_ user: DNNLMemory, _ userMD: dnnl_memory_desc_t, _ query: dnnl_query_t, isOutput: Bool) throws -> DNNLMemory {
                guard var md = dnnl_primitive_desc_query_md(pd, query, 0)?.pointee else { return user }
                var plain = userMD
                if dnnl_memory_desc_equal(&md, &plain) != 0 { return user }
                let copy = try DNNLMemory(md, engine: engine, allocate: true)
                if isOutput {
                    after = try dnnlReorder(from: copy, md, to: user, userMD, engine: engine)
                } else {
                    before.append(try dnnlReorder(from: user, userMD, to: copy, md, engine: engine))
                }
                blocked.append(copy)
                return copy
            }
            func input(_ user: DNNLMemory, _ userMD: dnnl_memory_desc_t, _ query: dnnl_query_t) throws -> DNNLMemory {
                try blockedCopy(user, userMD, query, isOutput: false)
            }
            func output(_ user: DNNLMemory, _ userMD: dnnl_memory_desc_t, _ query: dnnl_query_t) throws -> DNNLMemory {
                try blockedCopy(user, userMD, query, isOutput: true)
            }
            let args: [(Int32, DNNLMemory)]
            switch kind {
            case .forward:
                args = [(DNNL_ARG_SRC, try input(a, srcMD, dnnl_query_src_md)), (DNNL_ARG_WEIGHTS, convWeights),
                        (DNNL_ARG_DST, try output(out, dstMD, dnnl_query_dst_md))]
            case .backwardData:
                args = [(DNNL_ARG_DIFF_DST, try input(a, dstMD, dnnl_query_diff_dst_md)), (DNNL_ARG_WEIGHTS, convWeights),
                        (DNNL_ARG_DIFF_SRC, try output(out, srcMD, dnnl_query_diff_src_md))]
            case .backwardWeights:
                args = [(DNNL_ARG_SRC, try input(a, srcMD, dnnl_query_src_md)), (DNNL_ARG_DIFF_DST, try input(b, dstMD, dnnl_query_diff_dst_md)),
                        (DNNL_ARG_DIFF_WEIGHTS, convWeights)]
            }
            activationReorders = (before, after)
            blockedActivations = blocked
            pdOwned = false
            conv = try DNNLOp(pd: pd, engine: engine, args: args)
            weightMap = needsReorder ? WeightLayoutMap(chosen) : nil
            weightsLayout = chosen
            if let weights, weightMap == nil {
                reorder = kind == .backwardWeights
                    ? try dnnlReorder(from: weights, chosen, to: out, plainWeightsMD, engine: engine)
                    : try dnnlReorder(from: b, plainWeightsMD, to: weights, chosen, engine: engine)
            } else {
                reorder = nil
            }
            self.a = a; self.b = b; self.out = out; self.weights = weights
        } catch {
            if pdOwned { dnnl_primitive_desc_destroy(pd) }
            throw error
        }
    }

    /// Op descriptor and primitive descriptor, preferring direct kernels; `auto` only if
    /// oneDNN has no direct implementation for this shape.
    private static func createPD(_ kind: Kind, _ g: Conv2DGeometry, src: dnnl_memory_desc_t, weights: dnnl_memory_desc_t,
                                 dst: dnnl_memory_desc_t, engine: dnnl_engine_t, hint: dnnl_primitive_desc_t?,
                                 algorithms: [dnnl_alg_kind_t] = [dnnl_convolution_direct, dnnl_convolution_auto]) throws -> dnnl_primitive_desc_t {
        var src = src, weights = weights, dst = dst
        let strides: [Int64] = [Int64(g.stride), Int64(g.stride)]
        let pad: [Int64] = [Int64(g.padding), Int64(g.padding)]
        return try withUserScratchpadAttr { attr in
            var lastStatus = dnnl_success
            for alg in algorithms {
                var desc = dnnl_convolution_desc_t()
                switch kind {
                case .forward:
                    lastStatus = dnnl_convolution_forward_desc_init(&desc, dnnl_forward_training, alg, &src, &weights, nil, &dst, strides, pad, pad)
                case .backwardData:
                    lastStatus = dnnl_convolution_backward_data_desc_init(&desc, alg, &src, &weights, &dst, strides, pad, pad)
                case .backwardWeights:
                    lastStatus = dnnl_convolution_backward_weights_desc_init(&desc, alg, &src, &weights, nil, &dst, strides, pad, pad)
                }
                guard lastStatus == dnnl_success else { continue }
                var pd: dnnl_primitive_desc_t?
                lastStatus = dnnl_primitive_desc_create(&pd, &desc, attr, engine, hint)
                if lastStatus == dnnl_success, let pd { return pd }
            }
            throw KernelError.dnnl(call: "convolution \(kind.rawValue) primitive for \(g)", status: Int32(lastStatus.rawValue))
        }
    }

    func run(_ engine: ComputeEngine, a aPtr: UnsafeMutableRawPointer, b bPtr: UnsafeMutableRawPointer,
             out outPtr: UnsafeMutableRawPointer) throws {
        try a.bind(aPtr)
        try b.bind(bPtr)
        try out.bind(outPtr)
        if kind != .backwardWeights {
            if let weightMap, let blocked = weights?.ownedPointer {
                weightMap.scatter(plain: bPtr, into: blocked)
            } else if let reorder {
                try reorder.execute(engine.dnnlStream)
            }
        }
        for op in activationReorders.before { try op.execute(engine.dnnlStream) }
        try conv.execute(engine.dnnlStream)
        try activationReorders.after?.execute(engine.dnnlStream)
        if kind == .backwardWeights {
            if let weightMap, let blocked = weights?.ownedPointer {
                weightMap.gather(blocked: blocked, into: outPtr)
            } else if let reorder {
                try reorder.execute(engine.dnnlStream)
            }
        }
    }

    var residentBytes: Int {
        conv.scratchpadByteCount + (weights?.ownedByteCount ?? 0) + (reorder?.scratchpadByteCount ?? 0)
            + blockedActivations.reduce(0) { $0 + $1.ownedByteCount }
            + (activationReorders.before + [activationReorders.after].compactMap { $0 }).reduce(0) { $0 + $1.scratchpadByteCount }
    }

    /// oneDNN's name for the implementation it picked (e.g. "brg:avx512_core").
    var implementation: String { conv.implementation }
}
