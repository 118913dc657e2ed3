import CILData
import CILKernels
import Foundation
import Testing

private func cifarLike(perClass: Int = 4) throws -> ImageDataset {
    try SyntheticImages.dataset(classCount: 10, perClass: perClass, seed: 11)
}

private func slice(_ batch: Batch, _ slot: Int) -> [Float] {
    let per = batch.images.count / batch.labels.count
    return Array(batch.images.floats[(slot * per)..<((slot + 1) * per)])
}

@Test func normalisationConstantsPerCodebase() {
    #expect(Preprocessing.cifar(.lucir, train: true).normalization.std == [0.2009, 0.1984, 0.2023])
    #expect(Preprocessing.cifar(.aanets, train: false).normalization.mean == [0.5071, 0.4866, 0.4409])
    #expect(Preprocessing.cifar(.podnet, train: true).normalization.std == [0.2675, 0.2565, 0.2761])
    #expect(Preprocessing.cifar(.pycil, train: true).normalization.mean == [0.5071, 0.4867, 0.4408])
    #expect(Preprocessing.cifar(.podnet, train: true).brightness == Float(63) / Float(255))
    #expect(Preprocessing.cifar(.lucir, train: true).brightness == nil)
    #expect(Preprocessing.imageNet(.aanets, train: true).brightness == Float(63) / Float(255))
    #expect(Preprocessing.imageNet(.lucir, train: true).brightness == nil)
    #expect(Preprocessing.imageNet(.podnet, train: false).spatial == .resizeCenterCrop(resize: 256, crop: 224))
    #expect(Preprocessing.imageNet(.lucir, train: false).normalization.std == [0.229, 0.224, 0.225])
}

@Test func testTransformOnlyNormalises() throws {
    let data = try cifarLike(perClass: 1)
    let assembler = BatchAssembler(source: data, preprocessing: .cifar(.lucir, train: false), seed: 1)
    let batch = try assembler.assemble(indices: [3], phase: 0, epoch: 0)
    #expect(batch.images.shape == [1, 32, 32, 3] && batch.images.layout == .nhwc)
    let n = Normalization.lucirCIFAR100
    let expected = data.image(3).enumerated().map { (Float($0.element) / 255 - n.mean[$0.offset % 3]) / n.std[$0.offset % 3] }
    let got = slice(batch, 0)
    #expect(zip(got, expected).filter { $0 != $1 }.count == 0)
}

@Test func randomCropIsAPaddedShiftPossiblyFlipped() throws {
    let data = try cifarLike(perClass: 2)
    let assembler = BatchAssembler(source: data, preprocessing: .cifar(.lucir, train: true), seed: 2)
    let test = BatchAssembler(source: data, preprocessing: .cifar(.lucir, train: false), seed: 2)
    let batch = try assembler.assemble(indices: Array(0..<20), phase: 1, epoch: 3)
    let plain = try test.assemble(indices: Array(0..<20), phase: 0, epoch: 0)
    var flips = 0
    for slot in 0..<20 {
        let out = slice(batch, slot), src = slice(plain, slot)
        let zero = Normalization.lucirCIFAR100.mean.enumerated().map { -$0.element / Normalization.lucirCIFAR100.std[$0.offset] }
        var matched = false
        search: for dy in -4...4 { for dx in -4...4 { for flip in [false, true] {
            var ok = true
            check: for y in 0..<32 { for x in 0..<32 { for c in 0..<3 {
                let sx = (flip ? 31 - x : x) + dx, sy = y + dy
                let want = (sx >= 0 && sx < 32 && sy >= 0 && sy < 32) ? src[(sy * 32 + sx) * 3 + c] : zero[c]
                if out[(y * 32 + x) * 3 + c] != want { ok = false; break check }
            } } }
            if ok { matched = true; if flip { flips += 1 }; break search }
        } } }
        #expect(matched, "sample \(slot) is not a ±4 shift of its image")
    }
    #expect(flips > 2 && flips < 18, "\(flips) of 20 flipped")
}

@Test func batchesDoNotDependOnThreadsPrefetchOrComposition() throws {
    let data = try cifarLike(perClass: 30)
    let assembler = BatchAssembler(source: data, preprocessing: .cifar(.podnet, train: true), seed: 1993)
    func epoch(threads: Int, prefetch: Int) throws -> [Batch] {
        let loader = try BatchLoader(assembler: assembler, indices: Array(0..<data.count), batchSize: 64, phase: 2, epoch: 7,
                                     prefetch: prefetch, threads: threads)
        var out: [Batch] = []
        while let b = try loader.next() { out.append(b) }
        return out
    }
    let a = try epoch(threads: 1, prefetch: 1), b = try epoch(threads: 2, prefetch: 3), c = try epoch(threads: 1, prefetch: 2)
    #expect(a.count == 5)
    for (x, y) in zip(a, b) { #expect(Digest.of(x.images) == Digest.of(y.images) && x.indices == y.indices && x.labels == y.labels) }
    for (x, y) in zip(a, c) { #expect(Digest.of(x.images) == Digest.of(y.images)) }
    // Every sample once per epoch; the order changes with the epoch.
    #expect(a.flatMap(\.indices).sorted() == Array(0..<data.count))
    let next = BatchLoader.plan(indices: Array(0..<data.count), batchSize: 64, seed: 1993, phase: 2, epoch: 8, shuffle: true, dropLast: false)
    #expect(next.flatMap { $0 } != a.flatMap(\.indices))
    // A sample's pixels are the same in any batch, at any position.
    let first = a[0]
    let regrouped = try assembler.assemble(indices: [first.indices[5], 299, first.indices[0]], phase: 2, epoch: 7, threads: 2)
    #expect(slice(regrouped, 0) == slice(first, 5) && slice(regrouped, 2) == slice(first, 0))
    // A different epoch draws different crops.
    let other = try assembler.assemble(indices: [first.indices[0]], phase: 2, epoch: 8)
    #expect(slice(other, 0) != slice(first, 0))
}

@Test func labelsAreRemappedToLearningPositions() throws {
    let data = try SyntheticImages.dataset(classCount: 100, perClass: 1, seed: 3)
    let order = ClassOrder.lucirCIFAR100
    let schedule = try PhaseSchedule(totalClasses: 100, initialClasses: 50, increment: 10)
    let phase1 = SampleSelection.indices(labels: data.labels, classes: schedule.newLabels(phase: 1, order: order))
    let assembler = BatchAssembler(source: data, preprocessing: .cifar(.lucir, train: true), seed: 1, labelMap: order.labelToPosition)
    let loader = try BatchLoader(assembler: assembler, indices: phase1, batchSize: 4, phase: 1, epoch: 0)
    var targets: [Int] = []
    while let b = try loader.next() { targets += b.labels }
    #expect(targets.sorted() == Array(50..<60))
}

@Test func sampleSelections() {
    let labels = (0..<60).map { $0 % 6 }
    let balanced = SampleSelection.balanced(labels: labels, classes: [1, 4], perClass: 3, seed: 5, phase: 2)
    #expect(balanced.count == 6 && balanced.prefix(3).allSatisfy { labels[$0] == 1 } && balanced.suffix(3).allSatisfy { labels[$0] == 4 })
    #expect(balanced == SampleSelection.balanced(labels: labels, classes: [1, 4], perClass: 3, seed: 5, phase: 2))
    let training = SampleSelection.phaseTraining(labels: labels, newClasses: [5], exemplars: [0, 6, 11])
    #expect(training == [5, 11, 17, 23, 29, 35, 41, 47, 53, 59, 0, 6])
}

@Test func imageNetTransformsComeOut224() throws {
    let dir = try TempDir(); defer { dir.remove() }
    let data = try SyntheticImages.dataset(classCount: 2, perClass: 2, height: 300, width: 260, seed: 9)
    try DatasetWriters.writeImageFolder(data, wnids: ["n00000001", "n00000002"], split: "train", root: dir.path)
    let (folder, _) = try ImageNet.open(root: dir.path, split: "train", variant: .full)
    for train in [true, false] {
        let assembler = BatchAssembler(source: folder, preprocessing: .imageNet(.aanets, train: train), seed: 4)
        let one = try assembler.assemble(indices: [0, 1, 2, 3], phase: 0, epoch: 0, threads: 1)
        let two = try assembler.assemble(indices: [0, 1, 2, 3], phase: 0, epoch: 0, threads: 2)
        #expect(one.images.shape == [4, 224, 224, 3])
        #expect(Digest.of(one.images) == Digest.of(two.images))
        #expect(one.images.floats.allSatisfy { $0.isFinite && abs($0) < 3 })
    }
}

@Test func loaderReportsTheFirstBadImage() throws {
    let dir = try TempDir(); defer { dir.remove() }
    let data = try SyntheticImages.dataset(classCount: 2, perClass: 4, height: 40, width: 40)
    try DatasetWriters.writeImageFolder(data, wnids: ["n00000001", "n00000002"], split: "train", root: dir.path)
    let (folder, _) = try ImageNet.open(root: dir.path, split: "train", variant: .full)
    try Data("garbage".utf8).write(to: URL(fileURLWithPath: folder.paths[6]))
    let assembler = BatchAssembler(source: folder, preprocessing: .imageNet(.lucir, train: false), seed: 1)
    let loader = try BatchLoader(assembler: assembler, indices: Array(0..<8), batchSize: 8, phase: 0, epoch: 0, shuffle: false, threads: 2)
    expectDataError(naming: folder.paths[6], { if case .corruptImage = $0 { true } else { false } }) { try loader.next() }
}

@Test func cifarBatchAssemblyThroughput() throws {
    let data = try SyntheticImages.dataset(classCount: 10, perClass: 256, seed: 1)
    let assembler = BatchAssembler(source: data, preprocessing: .cifar(.podnet, train: true), seed: 1)
    let plan = BatchLoader.plan(indices: Array(0..<data.count), batchSize: 128, seed: 1, phase: 0, epoch: 0, shuffle: true, dropLast: true)
    let start = Date()
    for batch in plan { _ = try assembler.assemble(indices: batch, phase: 0, epoch: 0, threads: 1) }
    let rate = Double(plan.count * 128) / Date().timeIntervalSince(start)
    print("CIFAR-shaped batch assembly (crop+flip+jitter+normalise, 1 thread): \(Int(rate)) images/s")
    // Loose floor: the machine is shared; `cilbench data bench` reports the real figure.
    #expect(rate > 3000)
}
