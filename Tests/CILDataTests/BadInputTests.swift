import CILData
import Foundation
import Testing

@Test func missingFolder() {
    let root = "/nonexistent/cifar-root"
    expectDataError(naming: root, { if case .missingFile = $0 { true } else { false } }) {
        try CIFAR.readBinary(root: root, variant: .cifar100, split: .train)
    }
    expectDataError(naming: root, { if case .missingFile = $0 { true } else { false } }) {
        try FashionMNIST.read(root: root, split: .train)
    }
    expectDataError(naming: root, { if case .missingFile = $0 { true } else { false } }) {
        try ImageNet.open(root: root, split: "train", variant: .full)
    }
}

@Test func missingSplit() throws {
    let dir = try TempDir(); defer { dir.remove() }
    let data = try SyntheticImages.dataset(classCount: 100, perClass: 1)
    try DatasetWriters.writeCIFARBinary(data, variant: .cifar100, split: .train, root: dir.path)
    try DatasetWriters.writeCIFARPickle(data, variant: .cifar100, split: .train, root: dir.path)
    expectDataError(naming: dir.path, { if case .missingSplit(_, "test", _) = $0 { true } else { false } }) {
        try CIFAR.readBinary(root: dir.path, variant: .cifar100, split: .test)
    }
    expectDataError(naming: dir.path, { if case .missingSplit(_, "test", _) = $0 { true } else { false } }) {
        try CIFAR.readPickle(root: dir.path, split: .test)
    }
    expectDataError(naming: dir.path, { if case .missingSplit = $0 { true } else { false } }) {
        try FashionMNIST.read(root: dir.path, split: .test)
    }
}

@Test func truncatedFiles() throws {
    let dir = try TempDir(); defer { dir.remove() }
    let grey = try SyntheticImages.dataset(classCount: 10, perClass: 2, height: 28, width: 28, channels: 1)
    // Raw idx: header promises 20 images, file holds fewer.
    try DatasetWriters.writeIDX(grey, split: .train, root: dir.path, gzip: false)
    let images = dir.file("train-images-idx3-ubyte")
    try dir.write(Array(try dir.read("train-images-idx3-ubyte").dropLast(100)), to: "train-images-idx3-ubyte")
    expectDataError(naming: images, { if case .truncated = $0 { true } else { false } }) { try FashionMNIST.read(root: dir.path, split: .train) }
    // gzip'd idx cut mid-stream.
    let gz = try TempDir(); defer { gz.remove() }
    try DatasetWriters.writeIDX(grey, split: .train, root: gz.path, gzip: true)
    try gz.write(Array(try gz.read("train-images-idx3-ubyte.gz").prefix(200)), to: "train-images-idx3-ubyte.gz")
    expectDataError(naming: gz.file("train-images-idx3-ubyte.gz"), { if case .truncated = $0 { true } else { false } }) {
        try FashionMNIST.read(root: gz.path, split: .train)
    }
    // Pickle cut short.
    let colour = try SyntheticImages.dataset(classCount: 100, perClass: 1)
    try DatasetWriters.writeCIFARPickle(colour, variant: .cifar100, split: .train, root: dir.path)
    let pickle = dir.file("cifar-100-python/train")
    try dir.write(Array(try dir.read("cifar-100-python/train").prefix(5000)), to: "cifar-100-python/train")
    expectDataError(naming: pickle, { if case .truncated = $0 { true } else { false } }) { try CIFAR.readPickle(root: dir.path, split: .train) }
    // CIFAR binary with fewer records than the official count, when those are required.
    try DatasetWriters.writeCIFARBinary(colour, variant: .cifar100, split: .train, root: dir.path)
    expectDataError(naming: dir.file("cifar-100-binary/train.bin"), { if case .truncated = $0 { true } else { false } }) {
        try CIFAR.readBinary(root: dir.path, variant: .cifar100, split: .train, requireOfficialCounts: true)
    }
}

@Test func wrongRecordSize() throws {
    let dir = try TempDir(); defer { dir.remove() }
    try DatasetWriters.writeCIFARBinary(try SyntheticImages.dataset(classCount: 100, perClass: 1), variant: .cifar100, split: .test, root: dir.path)
    try dir.write(try dir.read("cifar-100-binary/test.bin") + [7], to: "cifar-100-binary/test.bin")
    expectDataError(naming: dir.file("cifar-100-binary/test.bin"), { if case .wrongRecordSize(_, _, 3074) = $0 { true } else { false } }) {
        try CIFAR.readBinary(root: dir.path, variant: .cifar100, split: .test)
    }
}

@Test func labelOutOfRange() throws {
    let dir = try TempDir(); defer { dir.remove() }
    try DatasetWriters.writeCIFARBinary(try SyntheticImages.dataset(classCount: 10, perClass: 1), variant: .cifar10, split: .test, root: dir.path)
    var bytes = try dir.read("cifar-10-batches-bin/test_batch.bin")
    bytes[3073 * 2] = 10
    try dir.write(bytes, to: "cifar-10-batches-bin/test_batch.bin")
    expectDataError(naming: dir.file("cifar-10-batches-bin/test_batch.bin"), { if case .labelOutOfRange(_, 2, 10, 10) = $0 { true } else { false } }) {
        try CIFAR.readBinary(root: dir.path, variant: .cifar10, split: .test)
    }
    try DatasetWriters.writeIDX(try SyntheticImages.dataset(classCount: 10, perClass: 1, height: 28, width: 28, channels: 1), split: .test, root: dir.path, gzip: false)
    var labels = try dir.read("t10k-labels-idx1-ubyte")
    labels[8 + 4] = 12
    try dir.write(labels, to: "t10k-labels-idx1-ubyte")
    expectDataError(naming: dir.file("t10k-labels-idx1-ubyte"), { if case .labelOutOfRange(_, 4, 12, 10) = $0 { true } else { false } }) {
        try FashionMNIST.read(root: dir.path, split: .test)
    }
}

@Test func wrongMagicNumber() throws {
    let dir = try TempDir(); defer { dir.remove() }
    let grey = try SyntheticImages.dataset(classCount: 10, perClass: 1, height: 28, width: 28, channels: 1)
    try DatasetWriters.writeIDX(grey, split: .test, root: dir.path, gzip: false)
    // Swap the image and label files: each has the other's magic number.
    let images = try dir.read("t10k-images-idx3-ubyte")
    try dir.write(try dir.read("t10k-labels-idx1-ubyte"), to: "t10k-images-idx3-ubyte")
    try dir.write(images, to: "t10k-labels-idx1-ubyte")
    expectDataError(naming: dir.file("t10k-images-idx3-ubyte"), { if case .badMagic(_, 0x801, 0x803) = $0 { true } else { false } }) {
        try FashionMNIST.read(root: dir.path, split: .test)
    }
}

@Test func corruptAndNonJPEGFiles() throws {
    let dir = try TempDir(); defer { dir.remove() }
    let data = try SyntheticImages.dataset(classCount: 2, perClass: 1, height: 64, width: 64)
    try DatasetWriters.writeImageFolder(data, wnids: ["n00000001", "n00000002"], split: "train", root: dir.path)
    let (folder, _) = try ImageNet.open(root: dir.path, split: "train", variant: .full)
    let good = try dir.read(String(folder.paths[0].dropFirst(dir.path.count + 1)))
    try Data("not a jpeg at all".utf8).write(to: URL(fileURLWithPath: folder.paths[0]))
    expectDataError(naming: folder.paths[0], { if case .corruptImage = $0 { true } else { false } }) { try JPEG.decodeFile(folder.paths[0]) }
    expectDataError(naming: folder.paths[0], { if case .corruptImage = $0 { true } else { false } }) { try folder.withImage(at: 0) { $0.height } }
    // A JPEG cut in half: libjpeg warns of a premature end; we refuse it, as PIL does.
    try Data(good.prefix(good.count / 2)).write(to: URL(fileURLWithPath: folder.paths[0]))
    expectDataError(naming: folder.paths[0], { if case .corruptImage = $0 { true } else { false } }) { try JPEG.decodeFile(folder.paths[0]) }
    // A start-of-image marker followed by garbage: a fatal libjpeg error, caught.
    try Data([0xFF, 0xD8] + (0..<500).map { UInt8($0 % 251) }).write(to: URL(fileURLWithPath: folder.paths[0]))
    expectDataError(naming: folder.paths[0], { if case .corruptImage = $0 { true } else { false } }) { try JPEG.decodeFile(folder.paths[0]) }
}

@Test func emptyClassFolder() throws {
    let dir = try TempDir(); defer { dir.remove() }
    try DatasetWriters.writeImageFolder(try SyntheticImages.dataset(classCount: 1, perClass: 1, height: 16, width: 16), wnids: ["n00000001"], split: "train", root: dir.path)
    try FileManager.default.createDirectory(atPath: dir.file("train/n00000002"), withIntermediateDirectories: true)
    expectDataError(naming: dir.file("train/n00000002"), { if case .emptyClassFolder = $0 { true } else { false } }) {
        try ImageNet.open(root: dir.path, split: "train", variant: .full)
    }
}

@Test func unreadableFiles() throws {
    let dir = try TempDir(); defer { dir.remove() }
    try DatasetWriters.writeCIFARBinary(try SyntheticImages.dataset(classCount: 100, perClass: 1), variant: .cifar100, split: .train, root: dir.path)
    let path = dir.file("cifar-100-binary/train.bin")
    if geteuid() == 0 {
        print("skipped chmod 000 check: running as root, which reads files whatever their mode")
    } else {
        chmod(path, 0)
        expectDataError(naming: path, { if case .unreadable = $0 { true } else { false } }) {
            try CIFAR.readBinary(root: dir.path, variant: .cifar100, split: .train)
        }
        chmod(path, 0o644)
    }
    // A folder where the records file belongs cannot be read either, root or not.
    try FileManager.default.removeItem(atPath: path)
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    expectDataError(naming: path, { if case .unreadable = $0 { true } else { false } }) {
        try CIFAR.readBinary(root: dir.path, variant: .cifar100, split: .train)
    }
}
