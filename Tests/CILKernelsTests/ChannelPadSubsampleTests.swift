import CILKernels
import Testing

private typealias S = NormTestSupport

@Suite struct ChannelPadSubsampleTests {
    @Test func handComputed() throws {
        for path in [KernelPath.fast, .reference] {
            let engine = try ComputeEngine(threads: 2, path: path)
            // One 3×3 image, 1 channel, values 1…9: rows/columns 0 and 2 survive (ceil(3/2) = 2).
            let x = Tensor(shape: [1, 3, 3, 1], scalars: (1...9).map(Float.init), layout: .nhwc)
            let y = engine.subsampleAndPadChannels(x, stride: 2, outChannels: 2)
            #expect(y.shape == [1, 2, 2, 2] && y.layout == .nhwc)
            #expect(y.floats == [1, 0, 3, 0, 7, 0, 9, 0])
            let dx = engine.subsampleAndPadChannelsBackward(Tensor(shape: [1, 2, 2, 2], scalars: [1, 5, 2, 5, 3, 5, 4, 5] as [Float], layout: .nhwc),
                                                            inputShape: [1, 3, 3, 1], stride: 2)
            #expect(dx.shape == [1, 3, 3, 1] && dx.floats == [1, 0, 2, 0, 0, 0, 3, 0, 4])
        }
    }

    @Test func fastMatchesReferenceExactly() throws {
        let fast = try ComputeEngine(threads: 2, path: .fast)
        let reference = try ComputeEngine(threads: 2, path: .reference)
        for (k, (shape, outChannels)) in [([128, 32, 32, 16], 32), ([3, 7, 5, 3], 8), ([2, 1, 1, 4], 4), ([64, 16, 16, 32], 64)].enumerated() {
            let x = S.random(shape, seed: UInt64(k), dtype: .float32)
            let y = fast.subsampleAndPadChannels(x, stride: 2, outChannels: outChannels)
            #expect(Digest.of(y) == Digest.of(reference.subsampleAndPadChannels(x, stride: 2, outChannels: outChannels)), "\(shape)")
            #expect(S.relativeError(y, reference.subsampleAndPadChannels(x.converted(to: .float64), stride: 2, outChannels: outChannels)) == 0)
            let dy = S.random(y.shape, seed: UInt64(k) + 7, dtype: .float32)
            #expect(Digest.of(fast.subsampleAndPadChannelsBackward(dy, inputShape: shape, stride: 2))
                    == Digest.of(reference.subsampleAndPadChannelsBackward(dy, inputShape: shape, stride: 2)), "\(shape) backward")
        }
    }

    @Test func finiteDifferenceGradient() throws {
        let engine = try ComputeEngine(threads: 2, path: .reference)
        let shape = [2, 5, 4, 3]
        let x = S.random(shape, seed: 11), w = S.random([2, 3, 2, 6], seed: 12)
        let e = S.gradientError(x, analytic: engine.subsampleAndPadChannelsBackward(w, inputShape: shape, stride: 2)) {
            S.sumProduct(w, engine.subsampleAndPadChannels($0, stride: 2, outChannels: 6))
        }
        print("subsample-and-pad-channels finite differences: \(e)")
        #expect(e < 1e-8)
    }

    @Test func everyCallIsRecorded() throws {
        final class Recorder: KernelObserver {
            var kinds: [String] = []
            func kernelDidRun(_ record: KernelRecord) { kinds.append(record.kind) }
        }
        let engine = try ComputeEngine(threads: 2)
        let recorder = Recorder()
        engine.observer = recorder
        let y = engine.subsampleAndPadChannels(S.random([1, 4, 4, 2], seed: 1, dtype: .float32), stride: 2, outChannels: 4)
        _ = engine.subsampleAndPadChannelsBackward(y, inputShape: [1, 4, 4, 2], stride: 2)
        #expect(recorder.kinds == ["subsampleAndPadChannels", "subsampleAndPadChannelsBackward"])
    }
}
