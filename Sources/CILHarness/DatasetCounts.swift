import CILData

extension DatasetSpec {
    /// Refuses data with fewer images per class than the run uses: the protocol's
    /// `train_images_per_class` / `test_images_per_class` when it asks for fewer than the
    /// official dataset has, else the official count. A truncated file that still parses
    /// would otherwise train on part of the data without a word.
    func checkCounts(train: any ImageSource, test: any ImageSource, totalClasses: Int, dataRoot: String?) throws {
        for (split, source, needed) in [("training", train, trainImagesPerClass ?? fullTrainImagesPerClass),
                                        ("test", test, testImagesPerClass ?? fullTestImagesPerClass)] {
            guard let needed else { continue }
            var counts = [Int](repeating: 0, count: totalClasses)
            for label in source.labels where label >= 0 && label < totalClasses { counts[label] += 1 }
            if let short = counts.indices.first(where: { counts[$0] < needed }) {
                let official = (split == "training" ? trainImagesPerClass : testImagesPerClass) == nil ? " (the official count)" : ""
                throw HarnessError.mismatch("\(dataRoot ?? kind.rawValue): class \(short) has \(counts[short]) \(split) images, the protocol uses \(needed)\(official); the files are truncated or not the official dataset (`cilbench data check` tells which)")
            }
        }
    }
}

extension DatasetSpec {
    /// Synthetic data is made in memory: its size (classes × images × pixels × 3 bytes)
    /// must be computable without overflow and at most 16 GiB. Nil when it is.
    func syntheticSizeProblem(totalClasses: Int) -> String? {
        guard kind == .synthetic else { return nil }
        let size = imageSize ?? 32
        let perClass = (trainImagesPerClass ?? 50).addingReportingOverflow(testImagesPerClass ?? 10)
        var bytes = (partialValue: totalClasses, overflow: perClass.overflow)
        for factor in [perClass.partialValue, size, size, 3] where !bytes.overflow {
            bytes = bytes.partialValue.multipliedReportingOverflow(by: factor)
        }
        let limit = 16 << 30
        guard bytes.overflow || bytes.partialValue > limit else { return nil }
        return "synthetic images of \(totalClasses) classes × \(perClass.partialValue) images × \(size)×\(size)×3 bytes exceed 16 GiB"
    }
}
