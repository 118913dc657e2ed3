/// CIFAR-10 and CIFAR-100 in their official forms: the binary archives
/// (`cifar-100-binary/{train,test}.bin`: coarse byte, fine byte, 3072 CHW pixel bytes;
/// `cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin`: label byte + 3072) and the
/// python pickles (`cifar-100-python/{train,test,meta}`). Images come out HWC.
public enum CIFAR {
    public enum Variant: String, Sendable, CaseIterable {
        case cifar10 = "cifar-10", cifar100 = "cifar-100"
        public var classCount: Int { self == .cifar10 ? 10 : 100 }
        var labelBytes: Int { self == .cifar10 ? 1 : 2 }
        var recordBytes: Int { labelBytes + 3072 }
        var binaryFolder: String { self == .cifar10 ? "cifar-10-batches-bin" : "cifar-100-binary" }
        public func officialCount(_ split: Split) -> Int { split == .train ? 50_000 : 10_000 }
    }

    public enum Split: String, Sendable, CaseIterable { case train, test }

    /// Binary split files relative to the archive folder.
    public static func binaryFiles(_ variant: Variant, _ split: Split) -> [String] {
        switch (variant, split) {
        case (.cifar100, .train): return ["train.bin"]
        case (.cifar100, .test): return ["test.bin"]
        case (.cifar10, .train): return (1...5).map { "data_batch_\($0).bin" }
        case (.cifar10, .test): return ["test_batch.bin"]
        }
    }

    /// The folder holding the binary files: `root/<archive folder>` or `root` itself.
    public static func binaryFolder(root: String, variant: Variant) throws -> String {
        let inner = FileAccess.join(root, variant.binaryFolder)
        if FileAccess.isDirectory(inner) { return inner }
        guard FileAccess.isDirectory(root) else {
            throw DataError.missingFile(path: root, expected: "a folder holding \(variant.binaryFolder)/")
        }
        return root
    }

    /// Reads one split. With `requireOfficialCounts`, fewer records than the official
    /// 50,000/10,000 is reported as truncation (tests use tiny files and turn it off).
    public static func readBinary(root: String, variant: Variant, split: Split, requireOfficialCounts: Bool = false) throws -> ImageDataset {
        let folder = try binaryFolder(root: root, variant: variant)
        var pixels: [UInt8] = []
        var labels: [Int] = []
        let files = binaryFiles(variant, split)
        if !files.contains(where: { FileAccess.exists(FileAccess.join(folder, $0)) }) {
            throw DataError.missingSplit(root: folder, split: split.rawValue, expected: files.joined(separator: ", "))
        }
        for file in files {
            let path = FileAccess.join(folder, file)
            let bytes = try FileAccess.read(path, expected: "the CIFAR \(split.rawValue) records")
            let record = variant.recordBytes
            guard bytes.count % record == 0, !bytes.isEmpty else {
                throw DataError.wrongRecordSize(path: path, fileBytes: bytes.count, recordBytes: record)
            }
            let n = bytes.count / record
            let expectedPerFile = variant.officialCount(split) / files.count
            if requireOfficialCounts && n != expectedPerFile {
                throw DataError.truncated(path: path, expectedBytes: expectedPerFile * record, actualBytes: bytes.count)
            }
            pixels.reserveCapacity(pixels.count + n * 3072)
            try bytes.withUnsafeBufferPointer { b in
                for r in 0..<n {
                    let base = r * record
                    // CIFAR-100 records carry the coarse label first; the fine one is used.
                    let label = Int(b[base + variant.labelBytes - 1])
                    guard label < variant.classCount else {
                        throw DataError.labelOutOfRange(path: path, record: r, label: label, classCount: variant.classCount)
                    }
                    labels.append(label)
                    appendCHWasHWC(b, from: base + variant.labelBytes, to: &pixels)
                }
            }
        }
        let names = binaryClassNames(folder: folder, variant: variant)
        return try ImageDataset(name: "\(variant.rawValue)-\(split.rawValue)", height: 32, width: 32, channels: 3, pixels: pixels, labels: labels, classNames: names)
    }

    /// Class names from `fine_label_names.txt` / `batches.meta.txt` when present.
    static func binaryClassNames(folder: String, variant: Variant) -> [String] {
        let file = FileAccess.join(folder, variant == .cifar100 ? "fine_label_names.txt" : "batches.meta.txt")
        if let bytes = try? FileAccess.read(file, expected: "class names") {
            let names = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if names.count == variant.classCount { return names }
        }
        return (0..<variant.classCount).map { "class\($0)" }
    }

    static func appendCHWasHWC(_ b: UnsafeBufferPointer<UInt8>, from start: Int, to pixels: inout [UInt8]) {
        for p in 0..<1024 {
            pixels.append(b[start + p])
            pixels.append(b[start + 1024 + p])
            pixels.append(b[start + 2048 + p])
        }
    }

    /// HWC image → CHW bytes, for the writers.
    static func chw(fromHWC image: ArraySlice<UInt8>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 3072)
        let base = image.startIndex
        for p in 0..<1024 { for c in 0..<3 { out[c * 1024 + p] = image[base + p * 3 + c] } }
        return out
    }
}

import Foundation
