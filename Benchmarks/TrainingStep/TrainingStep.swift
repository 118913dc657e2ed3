// The cases of `cilbench bench` for ordo-one/benchmark: whole training steps at batch 128
// (TrainingStepCase), then the kernels that dominate them, per ResNet-32 layer shape.
// Networks, tensors and oneDNN primitives are built in each benchmark's setup hook, so
// the timed iterations see what a training loop sees after its first batch.
import Benchmark
import CILKernels
import CILNetworks
import Foundation

/// What a benchmark's setup hook builds and its iterations use.
final class Prepared<Value> {
    var value: Value?
}

/// oneDNN and OpenBLAS threads; 2 matches the PyTorch anchor (OMP_NUM_THREADS=2).
private func engineThreads() -> Int {
    ProcessInfo.processInfo.environment["CILBENCH_THREADS"].flatMap(Int.init) ?? 2
}

let benchmarks: @Sendable () -> Void = {
    let batch = 128
    let imagesPerSecond = BenchmarkMetric.custom("images/s", polarity: .prefersLarger, useScalingFactor: false)
    let gflops = BenchmarkMetric.custom("GFLOP/s", polarity: .prefersLarger, useScalingFactor: false)

    // A training step takes 0.1-1 s: a handful of iterations gives a stable median.
    let stepConfiguration = { (setup: @escaping () async throws -> Void, teardown: @escaping () async throws -> Void) in
        Benchmark.Configuration(metrics: [.wallClock, .throughput, .peakMemoryResident, imagesPerSecond], timeUnits: .milliseconds,
                                warmupIterations: 2, maxDuration: .seconds(10), maxIterations: 20, setup: setup, teardown: teardown)
    }
    // Each step also gets an `onednn` twin: the same step with oneDNN's direct kernels for
    // every convolution (`CILBENCH_CONV3X3=onednn`), against the default Winograd engine
    // (AVX-512 only; elsewhere the two are the same engine).
    for kind in TrainingStepCase.allCases {
      for (conv3x3, suffix) in [(Conv3x3Kernel.processDefault, ""), (Conv3x3Kernel.onednn, " onednn")] {
        let workload = Prepared<TrainingStepWorkload>()
        Benchmark("step \(kind.rawValue)\(suffix)", configuration: stepConfiguration({
            workload.value = TrainingStepWorkload(kind, engine: try ComputeEngine(threads: engineThreads(), conv3x3: conv3x3), batch: batch)
        }, { workload.value = nil })) { benchmark in
            guard let steps = workload.value else { return benchmark.error("setup did not run") }
            for _ in benchmark.scaledIterations {
                let start = DispatchTime.now().uptimeNanoseconds
                try steps.step()
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
                benchmark.measurement(imagesPerSecond, Int((Double(batch) / seconds).rounded()))
            }
        }
      }
    }

    let kernelConfiguration = { (metrics: [BenchmarkMetric], setup: @escaping () async throws -> Void, teardown: @escaping () async throws -> Void) in
        Benchmark.Configuration(metrics: metrics, timeUnits: .microseconds, warmupIterations: 3,
                                maxDuration: .seconds(1), maxIterations: 200, setup: setup, teardown: teardown)
    }

    // Every distinct convolution shape of ResNet-32 (CIFAR) at batch 128, in its three directions.
    let convolutions = ComputeEngine.benchmarkLayers
    struct ConvolutionInputs {
        let engine: ComputeEngine
        let x: Tensor, w: Tensor, dy: Tensor
        let geometry: Conv2DGeometry
    }
    // The 3x3 stride-1 layers also get a `direct` twin: the same call on cilbench's own
    // AVX2 kernels (`CILBENCH_CONV3X3=direct`), and an `onednn` twin on oneDNN's direct
    // kernels, for comparison with the default engine's Winograd kernels (oneDNN's
    // F(4x4, 3x3) from 32 channels, cilbench's F(2x2, 3x3) at 16; AVX-512 only).
    let variants = convolutions.enumerated().flatMap { k, layer in
        let ours = layer.kernel == 3 && layer.stride == 1 && layer.cin % 16 == 0
        return [(k, layer, Conv3x3Kernel.processDefault, "")]
            + (ours ? [(k, layer, Conv3x3Kernel.direct, " direct"), (k, layer, Conv3x3Kernel.onednn, " onednn")] : [])
    }
    for (k, layer, conv3x3, suffix) in variants {
        let padding = layer.kernel / 2
        let inputs = Prepared<ConvolutionInputs>()
        let setup = {
            let x = randomTensor([batch, layer.size, layer.size, layer.cin], seed: UInt64(3 * k), layout: .nhwc)
            let w = randomTensor([layer.cout, layer.cin, layer.kernel, layer.kernel], seed: UInt64(3 * k + 1), layout: .oihw)
            let geometry = Conv2DGeometry(input: x.shape, weight: w.shape, stride: layer.stride, padding: padding)
            inputs.value = ConvolutionInputs(engine: try ComputeEngine(threads: engineThreads(), conv3x3: conv3x3), x: x, w: w,
                                             dy: randomTensor(geometry.outputShape, seed: UInt64(3 * k + 2), layout: .nhwc), geometry: geometry)
        }
        let directions: [(String, (ConvolutionInputs) throws -> Void)] = [
            ("forward", { _ = try $0.engine.conv2dForward($0.x, weight: $0.w, stride: layer.stride, padding: padding) }),
            ("backward-data", { _ = try $0.engine.conv2dBackwardData($0.dy, weight: $0.w, geometry: $0.geometry) }),
            ("backward-weights", { _ = try $0.engine.conv2dBackwardWeights($0.dy, input: $0.x, geometry: $0.geometry) }),
        ]
        for (direction, run) in directions {
            Benchmark("conv \(layer.name) \(direction)\(suffix)",
                      configuration: kernelConfiguration([.wallClock, .throughput, gflops], setup, { inputs.value = nil })) { benchmark in
                guard let prepared = inputs.value else { return benchmark.error("setup did not run") }
                for _ in benchmark.scaledIterations {
                    let start = DispatchTime.now().uptimeNanoseconds
                    try run(prepared)
                    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
                    benchmark.measurement(gflops, Int((prepared.geometry.flopsForward / 1e9 / seconds).rounded()))
                }
            }
        }
    }

    // Batch norm (with and without the fused ReLU) and the residual join at the three
    // ResNet-32 stage shapes: together the non-convolution half of a training step.
    struct NormalizationInputs {
        let engine: ComputeEngine
        let x: Tensor, dy: Tensor, other: Tensor, gamma: Tensor, beta: Tensor
        let reluOutput: Tensor, statistics: BatchNormStatistics
    }
    let stages: [(name: String, shape: [Int])] = [
        ("s1 128x32x32x16", [batch, 32, 32, 16]), ("s2 128x16x16x32", [batch, 16, 16, 32]), ("s3 128x8x8x64", [batch, 8, 8, 64]),
    ]
    // The 32- and 64-channel stages also in nChw16c, the layout the Winograd engine keeps
    // them in (Sources/CILKernels/BlockedLayout.swift), with the reorder it saves.
    let normalizationVariants = stages.enumerated().flatMap { k, stage in
        [(k, stage, Layout.nhwc)] + (stage.shape[3] >= 32 ? [(k, stage, Layout.nChw16c)] : [])
    }
    for (k, stage, layout) in normalizationVariants {
        let inputs = Prepared<NormalizationInputs>()
        let setup = {
            let engine = try ComputeEngine(threads: engineThreads())
            let c = stage.shape[3]
            func input(_ seed: Int) throws -> Tensor {
                try engine.reordered(randomTensor(stage.shape, seed: UInt64(seed), layout: .nhwc), to: layout)
            }
            let x = try input(100 + 3 * k)
            let gamma = Tensor(filled: 1.1, shape: [c]), beta = Tensor(filled: 0.1, shape: [c])
            let (y, statistics) = try engine.batchNormReLUTraining(x, gamma: gamma, beta: beta)
            inputs.value = NormalizationInputs(engine: engine, x: x, dy: try input(101 + 3 * k), other: try input(102 + 3 * k),
                                               gamma: gamma, beta: beta, reluOutput: y, statistics: statistics)
        }
        let kernels: [(String, (NormalizationInputs) throws -> Void)] = [
            ("BN+ReLU train forward", { _ = try $0.engine.batchNormReLUTraining($0.x, gamma: $0.gamma, beta: $0.beta) }),
            ("BN+ReLU train backward", {
                _ = try $0.engine.batchNormReLUTrainingBackward($0.dy, input: $0.x, output: $0.reluOutput, gamma: $0.gamma, statistics: $0.statistics)
            }),
            ("BN train forward", { _ = try $0.engine.batchNormTraining($0.x, gamma: $0.gamma, beta: $0.beta) }),
            ("BN train backward", { _ = try $0.engine.batchNormTrainingBackward($0.dy, input: $0.x, gamma: $0.gamma, statistics: $0.statistics) }),
            ("add+ReLU", { _ = $0.engine.addReLU($0.x, $0.other) }),
            // A block's end as it runs now: BN, shortcut add and ReLU in one pass after the statistics.
            ("BN+add+ReLU train forward", { _ = try $0.engine.batchNormAddTraining($0.x, gamma: $0.gamma, beta: $0.beta, residual: $0.other, relu: true) }),
            ("ReLU backward", { _ = $0.engine.reluBackward($0.dy, output: $0.reluOutput) }),
        ] + (layout == .nChw16c ? [("reorder to NHWC", { _ = try $0.engine.reordered($0.x, to: .nhwc) })] : [])
        for (name, run) in kernels {
            Benchmark("norm \(stage.name) \(name)\(layout == .nChw16c ? " nChw16c" : "")",
                      configuration: kernelConfiguration([.wallClock, .throughput], setup, { inputs.value = nil })) { benchmark in
                guard let prepared = inputs.value else { return benchmark.error("setup did not run") }
                for _ in benchmark.scaledIterations { try run(prepared) }
            }
        }
    }
}

/// Uniform values in [-1, 1) from a seeded stream, float32.
private func randomTensor(_ shape: [Int], seed: UInt64, layout: Layout) -> Tensor {
    var stream = RandomStream(seed: seed, purpose: "benchmarks.inputs")
    return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in stream.nextFloat() * 2 - 1 }, layout: layout)
}
