// Plain OIHW weights to and from the blocked layout a oneDNN convolution picks for them
// (e.g. Acdb16a, ABcd16b16a), by a table of element offsets built once per primitive.
//
// Every convolution pass reorders its weights: the forward and backward-data passes from
// the caller's OIHW buffer into the kernel's layout, backward-weights its gradient back.
// oneDNN 2.6 does that with its generic `jit:uni` reorder, which takes 60-80 us a call for
// these 2,304 to 36,864 floats whatever the team size (measured with DNNL_VERBOSE on a
// 2-vCPU Zen 4): about 70 calls and 5 ms of a plain ResNet-32 step, 10 ms of an AANets
// one. Moving the elements through a precomputed table takes a few microseconds. It moves
// values without arithmetic, so its result is oneDNN's reorder's, bit for bit
// (WeightLayoutMapTests compares the two on every layout the engine meets).
import CDNNL

/// Where each element of a plain OIHW weight tensor sits in one oneDNN blocked layout.
struct WeightLayoutMap {
    /// offsets[i]: the element offset in the blocked buffer of the i-th OIHW element.
    let offsets: [Int32]

    /// nil unless `md` is a dense float32 4-d blocked layout without padding: padded
    /// layouts need their padding zeroed, which stays with oneDNN's reorder.
    init?(_ md: dnnl_memory_desc_t) {
        guard md.format_kind == dnnl_blocked, md.data_type == dnnl_f32, md.ndims == 4, md.offset0 == 0, md.extra.flags == 0 else { return nil }
        let dims = Self.values(md.dims, 4), padded = Self.values(md.padded_dims, 4), paddedOffsets = Self.values(md.padded_offsets, 4)
        guard dims == padded, paddedOffsets.allSatisfy({ $0 == 0 }) else { return nil }
        let blocking = md.format_desc.blocking
        let blockCount = Int(blocking.inner_nblks)
        let strides = Self.values(blocking.strides, 4)
        let blockSizes = Self.values(blocking.inner_blks, blockCount), blockDims = Self.values(blocking.inner_idxs, blockCount)
        guard blockDims.allSatisfy({ (0..<4).contains($0) }), blockSizes.allSatisfy({ $0 > 0 }) else { return nil }
        var blockOf = [1, 1, 1, 1]
        for k in 0..<blockCount { blockOf[blockDims[k]] *= blockSizes[k] }
        let count = dims.reduce(1, *)
        guard count > 0, count < Int(Int32.max) else { return nil }
        var offsets = [Int32](repeating: 0, count: count)
        var index = [0, 0, 0, 0], position = index
        var maxOffset = 0
        for i in 0..<count {
            // As oneDNN's memory_desc_wrapper::off_v: inner blocks innermost-last, each
            // consuming its dimension's position; what remains indexes the outer strides.
            for d in 0..<4 { position[d] = index[d] }  // in place: no array per element
            var offset = 0, innerStride = 1
            for k in stride(from: blockCount - 1, through: 0, by: -1) {
                let d = blockDims[k]
                offset += position[d] % blockSizes[k] * innerStride
                position[d] /= blockSizes[k]
                innerStride *= blockSizes[k]
            }
            for d in 0..<4 { offset += position[d] * strides[d] }
            offsets[i] = Int32(offset)
            maxOffset = max(maxOffset, offset)
            var d = 3
            while d >= 0 {
                index[d] += 1
                if index[d] < dims[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        var md = md
        guard maxOffset < dnnl_memory_desc_get_size(&md) / 4 else { return nil }
        self.offsets = offsets
    }

    /// blocked[offsets[i]] = plain[i].
    func scatter(plain: UnsafeRawPointer, into blocked: UnsafeMutableRawPointer) {
        let source = plain.assumingMemoryBound(to: Float.self), destination = blocked.assumingMemoryBound(to: Float.self)
        offsets.withUnsafeBufferPointer { table in
            for i in table.indices { destination[Int(table[i])] = source[i] }
        }
    }

    /// plain[i] = blocked[offsets[i]].
    func gather(blocked: UnsafeRawPointer, into plain: UnsafeMutableRawPointer) {
        let source = blocked.assumingMemoryBound(to: Float.self), destination = plain.assumingMemoryBound(to: Float.self)
        offsets.withUnsafeBufferPointer { table in
            for i in table.indices { destination[i] = source[Int(table[i])] }
        }
    }

    /// The first `count` values of a fixed-size C array of Int64 (imported as a tuple).
    private static func values<T>(_ tuple: T, _ count: Int) -> [Int] {
        withUnsafeBytes(of: tuple) { raw in (0..<count).map { Int(raw.load(fromByteOffset: $0 * 8, as: Int64.self)) } }
    }
}

extension WeightLayoutMap {
    /// A short name of a blocked layout: its outer strides and inner blocks (size:dimension).
    static func describe(_ md: dnnl_memory_desc_t) -> String {
        let blocking = md.format_desc.blocking
        let blocks = zip(values(blocking.inner_blks, Int(blocking.inner_nblks)), values(blocking.inner_idxs, Int(blocking.inner_nblks)))
        return "dims \(values(md.dims, 4)) strides \(values(blocking.strides, 4)) blocks \(blocks.map { "\($0.0):\("oihw".map(String.init)[$0.1])" })"
    }

    /// Whether scatter and gather give, bit for bit, what oneDNN's reorder between plain OIHW
    /// and `md` gives, on seeded values.
    func agreesWithOneDNN(_ md: dnnl_memory_desc_t, engine: ComputeEngine) throws -> Bool {
        let shape = Self.values(md.dims, 4)
        var blockedMD = md
        let plainMD = try dnnlMemoryDesc(shape, dnnl_oihw)
        let count = shape.reduce(1, *), blockedCount = dnnl_memory_desc_get_size(&blockedMD) / 4
        var random = RandomStream(seed: 7, purpose: "weight layout map check")
        var plain = (0..<count).map { _ in random.nextFloat() * 2 - 1 }
        var byOneDNN = [Float](repeating: 0, count: blockedCount), byMap = byOneDNN
        var backByOneDNN = [Float](repeating: 0, count: count), backByMap = backByOneDNN
        let plainMemory = try DNNLMemory(plainMD, engine: engine.dnnlEngine, allocate: false)
        let blockedMemory = try DNNLMemory(md, engine: engine.dnnlEngine, allocate: false)
        /// Runs oneDNN's reorder `op` from `source` into `destination`.
        func reorder(_ op: DNNLOp, _ source: inout [Float], _ sourceMemory: DNNLMemory,
                     into destination: inout [Float], _ destinationMemory: DNNLMemory) throws {
            try source.withUnsafeMutableBytes { s in
                try destination.withUnsafeMutableBytes { d in
                    try sourceMemory.bind(s.baseAddress!)
                    try destinationMemory.bind(d.baseAddress!)
                    try op.execute(engine.dnnlStream)
                }
            }
        }
        try reorder(try dnnlReorder(from: plainMemory, plainMD, to: blockedMemory, md, engine: engine.dnnlEngine),
                    &plain, plainMemory, into: &byOneDNN, blockedMemory)
        try reorder(try dnnlReorder(from: blockedMemory, md, to: plainMemory, plainMD, engine: engine.dnnlEngine),
                    &byOneDNN, blockedMemory, into: &backByOneDNN, plainMemory)
        plain.withUnsafeBytes { p in byMap.withUnsafeMutableBytes { scatter(plain: p.baseAddress!, into: $0.baseAddress!) } }
        byOneDNN.withUnsafeBytes { b in backByMap.withUnsafeMutableBytes { gather(blocked: b.baseAddress!, into: $0.baseAddress!) } }
        return byMap.map(\.bitPattern) == byOneDNN.map(\.bitPattern) && backByMap.map(\.bitPattern) == backByOneDNN.map(\.bitPattern)
            && backByMap.map(\.bitPattern) == plain.map(\.bitPattern)
    }
}

extension ComputeEngine {
    /// Every weight layout map among this engine's cached convolution primitives, checked
    /// against oneDNN's reorder (WeightLayoutMapTests): each layout's name and whether the
    /// two agree bit for bit.
    package func checkWeightLayoutMaps() throws -> [(layout: String, agrees: Bool)] {
        var mapped: [(WeightLayoutMap, dnnl_memory_desc_t)] = []
        for key in primitiveCache.keys.sorted() {  // sorted: a stable order for the report
            if let conv = primitiveCache[key] as? ConvPrimitive, let m = conv.mappedWeights { mapped.append(m) }
            if let conv = primitiveCache[key] as? FusedConvPrimitive, let m = conv.mappedWeights { mapped.append(m) }
        }
        return try mapped.map { map, md in (WeightLayoutMap.describe(md), try map.agreesWithOneDNN(md, engine: self)) }
    }
}
