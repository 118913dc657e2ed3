import CILData
import Foundation
import Testing

@Test func cifar100BinaryRoundTrip() throws {
    let dir = try TempDir(); defer { dir.remove() }
    let data = try SyntheticImages.dataset(classCount: 100, perClass: 2, seed: 3)
    try DatasetWriters.writeCIFARBinary(data, variant: .cifar100, split: .train, root: dir.path)
    let read = try CIFAR.readBinary(root: dir.path, variant: .cifar100, split: .train)
    #expect(read.pixels == data.pixels)
    #expect(read.labels == data.labels)
    #expect(read.classNames == data.classNames)
    // The archive folder itself works as root too.
    #expect(try CIFAR.readBinary(root: dir.file("cifar-100-binary"), variant: .cifar100, split: .train).labels == data.labels)
}

@Test func cifar10BinaryRoundTripAcrossFiveBatches() throws {
    let dir = try TempDir(); defer { dir.remove() }
    let data = try SyntheticImages.dataset(classCount: 10, perClass: 3, seed: 4)
    try DatasetWriters.writeCIFARBinary(data, variant: .cifar10, split: .train, root: dir.path)
    let read = try CIFAR.readBinary(root: dir.path, variant: .cifar10, split: .train)
    // Batch f holds rows f, f+5, …; the reader concatenates batches 1…5.
    let order = (0..<5).flatMap { stride(from: $0, to: 30, by: 5) }
    #expect(read.labels == order.map { data.labels[$0] })
    #expect(read.pixels == order.flatMap { Array(data.image($0)) })
}

@Test func cifarPickleRoundTrip() throws {
    let dir = try TempDir(); defer { dir.remove() }
    let data = try SyntheticImages.dataset(classCount: 100, perClass: 1, seed: 5)
    try DatasetWriters.writeCIFARPickle(data, variant: .cifar100, split: .test, root: dir.path)
    let read = try CIFAR.readPickle(root: dir.path, split: .test)
    #expect(read.pixels == data.pixels && read.labels == data.labels && read.classNames == data.classNames)

    let ten = try SyntheticImages.dataset(classCount: 10, perClass: 1, seed: 6)
    try DatasetWriters.writeCIFARPickle(ten, variant: .cifar10, split: .test, root: dir.path)
    let readTen = try CIFAR.readPickle(root: dir.path, variant: .cifar10, split: .test)
    #expect(readTen.pixels == ten.pixels && readTen.labels == ten.labels)
}

/// Pickles written by python3 with numpy 2.4 (`pickle.dumps(d, protocol=p)` of a dict like
/// the CIFAR-100 train file with one image): checked-in bytes around the 3072-byte payload
/// `(i * 7) % 256`. Protocol 2 stores bytes as `_codecs.encode(text, 'latin1')`, 4 uses
/// `_reconstruct` with BINBYTES, 5 uses `_frombuffer` with BYTEARRAY8.
@Test(arguments: [2, 4, 5])
func cifarPickleWrittenByNumpy(protocol: Int) throws {
    let fixtures: [Int: (String, String)] = [
        2: ("gAJ9cQAoY19jb2RlY3MKZW5jb2RlCnEBWAkAAABmaWxlbmFtZXNxAlgGAAAAbGF0aW4xcQOGcQRScQVdcQZoAVgFAAAAeC5wbmdxB2gDhnEIUnEJYWgBWAsAAABiYXRjaF9sYWJlbHEKaAOGcQtScQxoAVgVAAAAdHJhaW5pbmcgYmF0Y2ggMSBvZiAxcQ1oA4ZxDlJxD2gBWAsAAABmaW5lX2xhYmVsc3EQaAOGcRFScRJdcRNLKmFoAVgNAAAAY29hcnNlX2xhYmVsc3EUaAOGcRVScRZdcRdLCGFoAVgEAAAAZGF0YXEYaAOGcRlScRpjbnVtcHkuX2NvcmUubXVsdGlhcnJheQpfcmVjb25zdHJ1Y3QKcRtjbnVtcHkKbmRhcnJheQpxHEsAhXEdaAFYAQAAAGJxHmgDhnEfUnEgh3EhUnEiKEsBSwFNAAyGcSNjbnVtcHkKZHR5cGUKcSRYAgAAAHUxcSWJiIdxJlJxJyhLA1gBAAAAfHEoTk5OSv////9K/////0sAdHEpYoloAVgAEgAA",
            "cSpoA4ZxK1JxLHRxLWJ1Lg=="),
        4: ("gASV/wwAAAAAAAB9lChDCWZpbGVuYW1lc5RdlEMFeC5wbmeUYUMLYmF0Y2hfbGFiZWyUQxV0cmFpbmluZyBiYXRjaCAxIG9mIDGUQwtmaW5lX2xhYmVsc5RdlEsqYUMNY29hcnNlX2xhYmVsc5RdlEsIYUMEZGF0YZSMFm51bXB5Ll9jb3JlLm11bHRpYXJyYXmUjAxfcmVjb25zdHJ1Y3SUk5SMBW51bXB5lIwHbmRhcnJheZSTlEsAhZRDAWKUh5RSlChLAUsBTQAMhpRoDowFZHR5cGWUk5SMAnUxlImIh5RSlChLA4wBfJROTk5K/////0r/////SwB0lGKJQgAMAAA=",
            "lHSUYnUu"),
        5: ("gAWV4wwAAAAAAAB9lChDCWZpbGVuYW1lc5RdlEMFeC5wbmeUYUMLYmF0Y2hfbGFiZWyUQxV0cmFpbmluZyBiYXRjaCAxIG9mIDGUQwtmaW5lX2xhYmVsc5RdlEsqYUMNY29hcnNlX2xhYmVsc5RdlEsIYUMEZGF0YZSME251bXB5Ll9jb3JlLm51bWVyaWOUjAtfZnJvbWJ1ZmZlcpSTlChCAAwAAA==",
            "lIwFbnVtcHmUjAVkdHlwZZSTlIwCdTGUiYiHlFKUKEsDjAF8lE5OTkr/////Sv////9LAHSUYksBTQAMhpSMAUOUdJRSlHUu"),
    ]
    let payload = (0..<3072).map { UInt8(($0 * 7) % 256) }
    let (prefix, suffix) = try #require(fixtures[`protocol`])
    let body = `protocol` == 2 ? Array(String(String.UnicodeScalarView(payload.map { Unicode.Scalar($0) })).utf8) : payload
    let bytes = [UInt8](Data(base64Encoded: prefix)!) + body + [UInt8](Data(base64Encoded: suffix)!)
    let dir = try TempDir(); defer { dir.remove() }
    try dir.write(bytes, to: "cifar-100-python/train")
    let read = try CIFAR.readPickle(root: dir.path, split: .train)
    #expect(read.labels == [42])
    // CHW rows become HWC.
    #expect(read.pixels[0] == payload[0] && read.pixels[1] == payload[1024] && read.pixels[2] == payload[2048] && read.pixels[3] == payload[1])
}

@Test(arguments: [false, true])
func fashionMNISTRoundTrip(gzip: Bool) throws {
    let dir = try TempDir(); defer { dir.remove() }
    let data = try SyntheticImages.dataset(classCount: 10, perClass: 2, height: 28, width: 28, channels: 1, seed: 7)
    try DatasetWriters.writeIDX(data, split: .test, root: dir.path, gzip: gzip)
    let read = try FashionMNIST.read(root: dir.path, split: .test)
    #expect(read.pixels == data.pixels && read.labels == data.labels && read.height == 28 && read.channels == 1)
    let padded = try read.padded(to: 32, channels: 3)
    #expect(padded.height == 32 && padded.channels == 3)
    // Pixel (0,0) of the 28x28 image lands at (2,2), repeated over the 3 channels.
    let p = (2 * 32 + 2) * 3
    #expect(padded.pixels[p] == read.pixels[0] && padded.pixels[p + 2] == read.pixels[0] && padded.pixels[0] == 0)
}

@Test func debianFashionMNISTHasTheOfficialCounts() throws {
    guard FileManager.default.fileExists(atPath: FashionMNIST.debianRoot) else {
        print("skipped: \(FashionMNIST.debianRoot) absent (Debian package dataset-fashion-mnist not installed)")
        return
    }
    let train = try FashionMNIST.read(split: .train)
    let test = try FashionMNIST.read(split: .test)
    #expect(train.countsPerClass() == Array(repeating: 6000, count: 10))
    #expect(test.countsPerClass() == Array(repeating: 1000, count: 10))
    #expect(train.height == 28 && train.width == 28)
}

@Test func imageNetFoldersRoundTrip() throws {
    let dir = try TempDir(); defer { dir.remove() }
    let wnids = ["n01440764", "n01443537", "n01484850"]
    let train = try SyntheticImages.dataset(classCount: 3, perClass: 2, height: 40, width: 48, seed: 8)
    let val = try SyntheticImages.dataset(classCount: 3, perClass: 1, height: 40, width: 48, seed: 8, split: "val")
    try DatasetWriters.writeImageFolder(train, wnids: wnids, split: "train", root: dir.path)
    try DatasetWriters.writeImageFolder(val, wnids: wnids, split: "val", root: dir.path, flat: true)
    let (folder, order) = try ImageNet.open(root: dir.path, split: "train", variant: .full)
    #expect(folder.classNames == wnids && folder.labels == [0, 0, 1, 1, 2, 2])
    #expect(order.count == 3)
    let (flat, _) = try ImageNet.open(root: dir.path, split: "val", variant: .full)
    #expect(flat.labels == [0, 1, 2])
    // JPEG is lossy: decoded pixels stay close to the originals.
    let error = try folder.withImage(at: 3) { view -> Double in
        #expect(view.height == 40 && view.width == 48 && view.channels == 3)
        let original = train.image(3)
        var total = 0
        for i in 0..<view.pixels.count { total += abs(Int(view.pixels[i]) - Int(original[original.startIndex + i])) }
        return Double(total) / Double(view.pixels.count)
    }
    #expect(error < 12, "mean absolute JPEG error (noisy synthetic images, 4:2:0 chroma) \(error)")
}
