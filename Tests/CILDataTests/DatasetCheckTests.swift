import CILData
import Foundation
import Testing

@Test func sha256KnownAnswers() {
    // FIPS 180-4 examples.
    #expect(SHA256.hex(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(SHA256.hex(of: []) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(SHA256.hex(of: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    // Streaming in odd pieces gives the same digest.
    let data = (0..<1000).map { UInt8($0 % 256) }
    var s = SHA256()
    s.update(Array(data[0..<7])); s.update(Array(data[7..<130])); s.update(Array(data[130...]))
    #expect(s.finalize().map { String(format: "%02x", $0) }.joined() == SHA256.hex(of: data))
}

@Test func checkReportsCountsChecksumsAndProblems() throws {
    let dir = try TempDir(); defer { dir.remove() }
    let train = try SyntheticImages.dataset(classCount: 100, perClass: 2, seed: 1)
    let test = try SyntheticImages.dataset(classCount: 100, perClass: 1, seed: 1, split: "test")
    try DatasetWriters.writeCIFARBinary(train, variant: .cifar100, split: .train, root: dir.path)
    try DatasetWriters.writeCIFARBinary(test, variant: .cifar100, split: .test, root: dir.path)
    let report = try DatasetCheck.run(.cifar100, root: dir.path)
    #expect(report.splits.map(\.imageCount) == [200, 100])
    #expect(report.splits[0].perClass == Array(repeating: 2, count: 100))
    let trainBytes = try dir.read("cifar-100-binary/train.bin")
    #expect(report.files.count == 2 && report.files[0].sha256 == SHA256.hex(of: trainBytes))
    #expect(report.files.allSatisfy { $0.matches == nil })
    // Tiny synthetic files are not the official 500/100 per class.
    #expect(report.problems.count == 2)
    #expect(report.problems[0].contains("500"))
    // A pinned checksum that the file does not have is reported, naming the file.
    let pinned = ["train.bin": String(repeating: "0", count: 64), "test.bin": SHA256.hex(of: try dir.read("cifar-100-binary/test.bin"))]
    let checked = try DatasetCheck.run(.cifar100, root: dir.path, officialChecksums: pinned)
    #expect(checked.files.map(\.matches) == [false, true])
    #expect(checked.problems.contains { $0.contains(dir.file("cifar-100-binary/train.bin")) && $0.contains("does not match") })
}

@Test func checkOfDebianFashionMNIST() throws {
    guard FileManager.default.fileExists(atPath: FashionMNIST.debianRoot) else {
        print("skipped: \(FashionMNIST.debianRoot) absent")
        return
    }
    let report = try DatasetCheck.run(.fashionMNIST, root: FashionMNIST.debianRoot)
    #expect(report.splits.map(\.perClass) == [Array(repeating: 6000, count: 10), Array(repeating: 1000, count: 10)])
    #expect(report.problems.isEmpty)
    #expect(report.files.count == 4)
}

@Test func checkOfImageNetSubsetsNeedsTheRightWnids() throws {
    let dir = try TempDir(); defer { dir.remove() }
    let data = try SyntheticImages.dataset(classCount: 2, perClass: 1, height: 16, width: 16)
    try DatasetWriters.writeImageFolder(data, wnids: ["n00000001", "n00000002"], split: "train", root: dir.path)
    try DatasetWriters.writeImageFolder(data, wnids: ["n00000001", "n00000002"], split: "val", root: dir.path)
    let full = try DatasetCheck.run(.imageNet, root: dir.path)
    #expect(full.splits.map(\.imageCount) == [2, 2])
    #expect(full.problems.count == 1) // val has 1 per class, not 50
    #expect(throws: DataError.self) { try DatasetCheck.run(.imageNetSubsetLUCIR, root: dir.path) }
}
