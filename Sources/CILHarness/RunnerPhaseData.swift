import CILData
import CILMethods

/// The runner's side of `PhaseData`: training-split access for a method after exemplar
/// selection. Batches come from an assembler whose seed is keyed by the method's purpose,
/// so a finetuning pass never replays the phase's own augmentation draws.
final class RunnerPhaseData: PhaseData {
    unowned let runner: Runner
    let phase: Int
    let seen: Int

    init(runner: Runner, phase: Int, seen: Int) {
        self.runner = runner
        self.phase = phase
        self.seen = seen
    }

    var exemplars: [[Int]] { runner.memory.exemplars(seenClasses: seen) }

    func trainingIndices(ofClass position: Int) throws -> [Int] {
        guard position >= 0, position < seen else {
            throw HarnessError.mismatch("class position \(position) has not been seen (\(seen) classes so far)")
        }
        return runner.trainByPosition[position]
    }

    func batches(indices: [Int], batchSize: Int, purpose: String, epoch: Int, shuffle: Bool) throws -> any TrainingBatchSource {
        try checkSeen(indices)
        let base = runner.trainAssembler
        let assembler = BatchAssembler(source: base.source, preprocessing: base.preprocessing,
                                       seed: Digest.combine(base.seed, Digest.fnv1a(purpose)), labelMap: base.labelMap)
        return LoaderBatches(loader: try BatchLoader(assembler: assembler, indices: indices, batchSize: batchSize, phase: phase, epoch: epoch, shuffle: shuffle))
    }

    func images(at indices: [Int]) throws -> Tensor {
        try checkSeen(indices)
        guard !indices.isEmpty else { throw HarnessError.mismatch("no images asked for") }
        return try runner.trainEvaluationAssembler.assemble(indices: indices, phase: phase, epoch: 0).images
    }

    func replaceImages(at indices: [Int], with images: Tensor) throws {
        try checkSeen(indices)
        let preprocessing = runner.configuration.testPreprocessing
        guard case .identity = preprocessing.spatial else {
            throw HarnessError.mismatch("images can be replaced only when the test transform keeps their size (this protocol crops)")
        }
        let shape = images.shape
        guard shape.count == 4, shape[0] == indices.count else {
            throw HarnessError.mismatch("replacement images are \(shape), expected \(indices.count) NHWC images")
        }
        let perImage = shape[1] * shape[2] * shape[3]
        let channels = shape[3]
        let mean = preprocessing.normalization.mean, std = preprocessing.normalization.std
        guard mean.count == channels else { throw HarnessError.mismatch("replacement images have \(channels) channels, normalisation \(mean.count)") }
        let values = images.converted(to: .float32).floats
        var overrides = runner.imageOverrides
        for (n, index) in indices.enumerated() {
            let expected = try runner.configuration.train.withImage(at: index) { $0.pixels.count }
            guard expected == perImage else { throw HarnessError.mismatch("image \(index) has \(expected) bytes, its replacement \(perImage)") }
            overrides[index] = (0..<perImage).map { i in
                let c = i % channels
                let pixel = (values[n * perImage + i] * std[c] + mean[c]) * 255
                return UInt8(max(0, min(255, pixel.rounded())))
            }
        }
        runner.setImageOverrides(overrides)
    }

    private func checkSeen(_ indices: [Int]) throws {
        let labels = runner.configuration.train.labels, positions = runner.configuration.classOrder.labelToPosition
        if let stray = indices.first(where: { $0 < 0 || $0 >= labels.count || positions[labels[$0]] >= seen }) {
            throw HarnessError.mismatch("training image \(stray) is not of a seen class")
        }
    }
}

/// A `BatchLoader` seen as the methods' batch source.
final class LoaderBatches: TrainingBatchSource {
    let loader: BatchLoader
    init(loader: BatchLoader) { self.loader = loader }

    func next() throws -> TrainingBatch? {
        guard let batch = try loader.next() else { return nil }
        return TrainingBatch(images: batch.images, labels: batch.labels.map { Int32($0) })
    }
}
