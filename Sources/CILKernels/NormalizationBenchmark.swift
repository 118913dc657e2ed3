// Timing of the normalisation and elementwise kernels at the ResNet-32 shapes, batch 128,
// and their total for one training step. Each entry is the median of repeated calls on
// the same (cache-warm) buffers.
import Foundation

extension ComputeEngine {
    /// Median milliseconds per call of BN+ReLU forward/backward, plain BN forward/backward,
    /// add+ReLU, ReLU backward and add at the three ResNet-32 stage shapes (batch 128),
    /// then the estimated non-conv total for one ResNet-32 training step.
    public func benchmarkNormalizationKernels(repetitions: Int = 15) throws -> [(name: String, milliseconds: Double)] {
        var results: [(name: String, milliseconds: Double)] = []
        // (name, shape, BN layers, residual adds) of ResNet-32's three stages; the stem BN
        // counts towards stage 1. Each block has one BN+ReLU and one BN followed by add+ReLU.
        let stages: [(String, [Int], Int, Int)] = [
            ("s1 128x32x32x16", [128, 32, 32, 16], 11, 5),
            ("s2 128x16x16x32", [128, 16, 16, 32], 10, 5),
            ("s3 128x8x8x64", [128, 8, 8, 64], 10, 5),
        ]
        var total = 0.0
        let savedObserver = observer
        observer = nil
        defer { observer = savedObserver }
        for (name, shape, bnCount, addCount) in stages {
            let c = shape[3]
            let x = benchmarkTensor(shape, seed: 1)
            let dy = benchmarkTensor(shape, seed: 2)
            let other = benchmarkTensor(shape, seed: 3)
            let gamma = Tensor(filled: 1.1, shape: [c]), beta = Tensor(filled: 0.1, shape: [c])
            let (y, stats) = try batchNormReLUTraining(x, gamma: gamma, beta: beta, epsilon: 1e-5)
            // Untimed rounds first: the first kernel timed after creating the inputs ran ~35%
            // slower than the same kernel timed later.
            for _ in 0..<5 {
                _ = try batchNormTrainingBackward(dy, input: x, gamma: gamma, statistics: stats)
                _ = try batchNormReLUTraining(x, gamma: gamma, beta: beta, epsilon: 1e-5)
            }

            let reluForward = try median(repetitions) { _ = try self.batchNormReLUTraining(x, gamma: gamma, beta: beta, epsilon: 1e-5) }
            let reluBackward = try median(repetitions) {
                _ = try self.batchNormReLUTrainingBackward(dy, input: x, output: y, gamma: gamma, statistics: stats)
            }
            let plainForward = try median(repetitions) { _ = try self.batchNormTraining(x, gamma: gamma, beta: beta, epsilon: 1e-5) }
            let plainBackward = try median(repetitions) {
                _ = try self.batchNormTrainingBackward(dy, input: x, gamma: gamma, statistics: stats)
            }
            let addRelu = try median(repetitions) { _ = self.addReLU(x, other) }
            let maskGrad = try median(repetitions) { _ = self.reluBackward(dy, output: y) }
            let addGrad = try median(repetitions) { _ = self.add(dy, other) }
            results += [
                ("\(name) BN+ReLU train fwd", reluForward), ("\(name) BN+ReLU train bwd", reluBackward),
                ("\(name) BN train fwd", plainForward), ("\(name) BN train bwd", plainBackward),
                ("\(name) add+ReLU", addRelu), ("\(name) ReLU bwd", maskGrad), ("\(name) add", addGrad),
            ]
            // Per block: BN+ReLU and plain BN, forward and backward; add+ReLU forward; its mask
            // backward and the shortcut's gradient add. The stem BN counts as a BN+ReLU.
            let reluBNs = bnCount - addCount
            total += Double(reluBNs) * (reluForward + reluBackward) + Double(addCount) * (plainForward + plainBackward)
            total += Double(addCount) * (addRelu + maskGrad + addGrad)
        }
        results.append(("ResNet-32 step total (31 BN fwd+bwd, 15 add+ReLU fwd+bwd, 15 grad adds)", total))
        return results
    }

    private func benchmarkTensor(_ shape: [Int], seed: UInt64) -> Tensor {
        var stream = RandomStream(seed: seed, purpose: "normalization benchmark")
        var t = Tensor(uninitialized: shape, dtype: .float32, layout: .nhwc)
        t.withUnsafeMutableBufferPointer(as: Float.self) { p in
            for i in p.indices { p[i] = stream.nextFloat() * 4 - 1.5 }
        }
        return t
    }

    private func median(_ repetitions: Int, _ body: () throws -> Void) throws -> Double {
        for _ in 0..<2 { try body() }
        var times: [Double] = []
        for _ in 0..<max(1, repetitions) {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        times.sort()
        return times[times.count / 2]
    }
}
