import CILData
import CILMethods

/// The runner's side of `PhaseData`: read-only training-split access for a method after
/// exemplar selection, over a snapshot of the runner's state (no reference back to it).
/// Batches come from an assembler whose seed is keyed by the method's purpose, so a
/// finetuning pass never replays the phase's own augmentation draws. Replacement images a
/// method returns become uint8 pixels through `storedPixels(for:)`, which the runner applies.
final class RunnerPhaseData: PhaseData {
    let phase: Int
    let seen: Int
    let exemplars: [[Int]]
    private let trainByPosition: [[Int]]
    private let configuration: RunConfiguration
    private let trainAssembler: BatchAssembler
    private let trainEvaluationAssembler: BatchAssembler

    init(phase: Int, seen: Int, exemplars: [[Int]], trainByPosition: [[Int]], configuration: RunConfiguration,
         trainAssembler: BatchAssembler, trainEvaluationAssembler: BatchAssembler) {
        self.phase = phase
        self.seen = seen
        self.exemplars = exemplars
        self.trainByPosition = trainByPosition
        self.configuration = configuration
        self.trainAssembler = trainAssembler
        self.trainEvaluationAssembler = trainEvaluationAssembler
    }

    func trainingIndices(ofClass position: Int) throws -> [Int] {
        guard position >= 0, position < seen else {
            throw HarnessError.mismatch("class position \(position) has not been seen (\(seen) classes so far)")
        }
        return trainByPosition[position]
    }

    func batches(indices: [Int], batchSize: Int, purpose: String, epoch: Int, shuffle: Bool) throws -> any TrainingBatchSource {
        try checkSeen(indices)
        let base = trainAssembler
        let assembler = BatchAssembler(source: base.source, preprocessing: base.preprocessing,
                                       seed: Digest.combine(base.seed, Digest.fnv1a(purpose)), labelMap: base.labelMap)
        return LoaderBatches(loader: try BatchLoader(assembler: assembler, indices: indices, batchSize: batchSize, phase: phase, epoch: epoch, shuffle: shuffle))
    }

    func images(at indices: [Int]) throws -> Tensor {
        try checkSeen(indices)
        guard !indices.isEmpty else { throw HarnessError.mismatch("no images asked for") }
        return try trainEvaluationAssembler.assemble(indices: indices, phase: phase, epoch: 0).images
    }

    func storedImages(for replacement: ImageReplacement) throws -> Tensor {
        guard !replacement.indices.isEmpty else { throw HarnessError.mismatch("no images asked for") }
        // Only the replaced indices are read, so the new pixels over the current source suffice.
        let base = trainEvaluationAssembler
        let assembler = BatchAssembler(source: OverlaidImageSource(base: base.source, overrides: try storedPixels(for: replacement)),
                                       preprocessing: base.preprocessing, seed: base.seed, labelMap: base.labelMap)
        return try assembler.assemble(indices: replacement.indices, phase: phase, epoch: 0).images
    }

    func classMeanViews(at indices: [Int]) throws -> [Tensor] {
        var views = [try images(at: indices)]
        if let view = configuration.classMeanViews.secondView {
            views.append(try trainEvaluationAssembler.viewing(view).assemble(indices: indices, phase: phase, epoch: 0).images)
        }
        return views
    }

    /// The uint8 pixels the harness stores for `replacement`, by training index: de-normalised
    /// with the test transform's statistics, ×255, rounded as the replacement says and
    /// clamped to 0...255 (`ImageReplacement.pixels`).
    func storedPixels(for replacement: ImageReplacement) throws -> [Int: [UInt8]] {
        let indices = replacement.indices
        try checkSeen(indices)
        let preprocessing = configuration.testPreprocessing
        guard case .identity = preprocessing.spatial else {
            throw HarnessError.mismatch("images can be replaced only when the test transform keeps their size (this protocol crops)")
        }
        let shape = replacement.images.shape
        guard shape.count == 4, shape[0] == indices.count else {
            throw HarnessError.mismatch("replacement images are \(shape), expected \(indices.count) NHWC images")
        }
        let perImage = shape[1] * shape[2] * shape[3]
        let channels = shape[3]
        let mean = preprocessing.normalization.mean, std = preprocessing.normalization.std
        guard mean.count == channels else { throw HarnessError.mismatch("replacement images have \(channels) channels, normalisation \(mean.count)") }
        let all = ImageReplacement.pixels(normalised: replacement.images.converted(to: .float32).floats,
                                          mean: mean, std: std, rounding: replacement.rounding)
        var pixels: [Int: [UInt8]] = [:]
        for (n, index) in indices.enumerated() {
            let expected = try configuration.train.withImage(at: index) { $0.pixels.count }
            guard expected == perImage else { throw HarnessError.mismatch("image \(index) has \(expected) bytes, its replacement \(perImage)") }
            pixels[index] = Array(all[(n * perImage)..<((n + 1) * perImage)])
        }
        return pixels
    }

    private func checkSeen(_ indices: [Int]) throws {
        let labels = configuration.train.labels, positions = configuration.classOrder.labelToPosition
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
