import CILKernels
import Testing

/// The engine's primitive cache (PrimitiveCache.swift): what it drops over its byte budget,
/// and that an engine which must remake its primitives gives the same bits.
@Suite struct PrimitiveCacheTests {
    final class Held: ResidentPrimitive {
        let residentBytes: Int
        init(_ bytes: Int) { residentBytes = bytes }
    }

    @Test func dropsTheLeastRecentlyUsedBeyondTheBudget() {
        var cache = PrimitiveCache(budgetBytes: 100)
        cache["a"] = Held(40)
        cache["b"] = Held(40)
        _ = cache["a"]  // a is now more recent than b
        cache["c"] = Held(40)  // 120 bytes: b goes
        #expect(cache["b"] == nil && cache["a"] != nil && cache["c"] != nil)
        #expect(cache.dropped == 1 && cache.residentBytes == 80)
        cache["d"] = Held(200)  // alone over the budget: everything else goes, d stays
        #expect(cache.keys == ["d"] && cache.dropped == 3)
    }

    @Test(arguments: [Conv3x3Kernel.onednn, .winograd])
    func remadePrimitivesGiveTheSameBits(conv3x3: Conv3x3Kernel) throws {
        let keeping = try ComputeEngine(threads: 2, conv3x3: conv3x3)
        let remaking = try ComputeEngine(threads: 2, conv3x3: conv3x3)
        remaking.primitiveCache = PrimitiveCache(budgetBytes: 0)
        var random = RandomStream(seed: 3, purpose: "test.primitive cache")
        func tensor(_ shape: [Int], _ layout: Layout) -> Tensor {
            Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in random.nextFloat() * 2 - 1 }, layout: layout)
        }
        let x = tensor([4, 16, 16, 32], .nhwc), w = tensor([32, 32, 3, 3], .oihw), bias = tensor([32], .plain)
        let g = Conv2DGeometry(input: x.shape, weight: w.shape, stride: 1, padding: 1)
        let dy = tensor(g.outputShape, .nhwc)
        func passes(_ e: ComputeEngine) throws -> [[Float]] {
            try (0..<2).flatMap { _ in
                [try e.conv2dForward(x, weight: w, stride: 1, padding: 1).floats,
                 try e.conv2dBackwardData(dy, weight: w, geometry: g).floats,
                 try e.conv2dBackwardWeights(dy, input: x, geometry: g).floats,
                 try e.conv2dInference(x, weight: w, bias: bias, stride: 1, padding: 1, residual: nil, relu: true).floats]
            }
        }
        #expect(try passes(keeping) == passes(remaking))
        #expect(remaking.primitiveCacheSummary.dropped > 0)
    }
}
