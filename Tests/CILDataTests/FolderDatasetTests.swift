import CILData
import CILKernels
import Foundation
import Testing

/// Image folders (JPEG and PNG), Tiny-ImageNet in its official layout and CIFAR-10 in both
/// official formats, written by the tests and read back; every bad layout is one error
/// naming the file.
@Suite struct FolderDatasetTests {
    static let classNames = ["apple", "bus", "cat"]

    /// 3 classes × n images of h×w, names set, seeded.
    static func images(perClass: Int, height: Int = 20, width: Int = 24, seed: UInt64 = 3, split: String = "train", channels: Int = 3) throws -> ImageDataset {
        let d = try SyntheticImages.dataset(classCount: 3, perClass: perClass, height: height, width: width, channels: channels, seed: seed, split: split)
        return try ImageDataset(name: d.name, height: d.height, width: d.width, channels: d.channels, pixels: d.pixels, labels: d.labels, classNames: classNames)
    }

    @Test func pngRoundTripIsExactAndGreyBecomesRGB() throws {
        let data = try Self.images(perClass: 1)
        let rgb = Array(data.image(0))
        let png = try PNG.encode(pixels: rgb, height: 20, width: 24, channels: 3)
        let back = try ImageFile.decode(png, path: "x.png")
        #expect(back.height == 20 && back.width == 24 && back.pixels == rgb)
        // Grey: each value replicated to R, G and B (the documented conversion).
        let grey = (0..<(20 * 24)).map { UInt8(($0 * 7) % 256) }
        let greyBack = try ImageFile.decode(try PNG.encode(pixels: grey, height: 20, width: 24, channels: 1), path: "g.png")
        let expectedGrey: [UInt8] = grey.flatMap { (v: UInt8) -> [UInt8] in [v, v, v] }
        #expect(greyBack.pixels == expectedGrey)
        let greyJPEG = try ImageFile.decode(try JPEG.encode(pixels: grey, height: 20, width: 24, channels: 1, quality: 100), path: "g.jpg")
        #expect(greyJPEG.pixels.count == 20 * 24 * 3)
        let p = greyJPEG.pixels
        let replicated = (0..<(20 * 24)).allSatisfy { (i: Int) -> Bool in p[3 * i] == p[3 * i + 1] && p[3 * i] == p[3 * i + 2] }
        #expect(replicated)
        // RGBA: alpha is dropped, colour kept (PIL's convert('RGB')).
        var rgba: [UInt8] = []
        for i in 0..<(20 * 24) { rgba += [rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], UInt8(i % 256)] }
        #expect(try ImageFile.decode(try PNG.encode(pixels: rgba, height: 20, width: 24, channels: 4), path: "a.png").pixels == rgb)
    }

    @Test func imageFolderReadsLabelsPixelsAndClassNames() throws {
        let dir = try TempDir(); defer { dir.remove() }
        let train = try Self.images(perClass: 4), test = try Self.images(perClass: 2, seed: 4, split: "test")
        try DatasetWriters.writeClassFolders(train, split: "train", root: dir.path, format: .png)
        try DatasetWriters.writeClassFolders(test, split: "val", root: dir.path, format: .jpeg, quality: 98)
        try dir.write(Array("notes".utf8), to: "train/bus/README.txt")  // ignored: not an image
        let splits = try FolderDatasets.openImageFolder(root: dir.path)
        #expect(splits.testSplit == "val")
        #expect(splits.train.classNames == Self.classNames && splits.test.classNames == Self.classNames)
        #expect(splits.train.labels == train.labels && splits.test.labels == test.labels)
        #expect(splits.train.countsPerClass() == [4, 4, 4])
        // PNG pixels are exact, in memory or decoded per access.
        let cached = try FolderDatasets.decodeAll(splits.train)
        #expect(cached.pixels == train.pixels)
        for i in [0, 5, 11] { #expect(try splits.train.withImage(at: i) { Array($0.pixels) } == Array(train.image(i))) }
        // JPEG pixels: exactly what libjpeg decodes from that file, and close to what was
        // written (lossy, chroma subsampled, on noisy synthetic images).
        let testCached = try FolderDatasets.decodeAll(splits.test)
        for i in 0..<test.count { #expect(Array(testCached.image(i)) == (try JPEG.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: splits.test.paths[i]))), path: "").pixels)) }
        let differences: [Int] = zip(testCached.pixels, test.pixels).map { (a: UInt8, b: UInt8) -> Int in abs(Int(a) - Int(b)) }
        let mean = Double(differences.reduce(0, +)) / Double(test.pixels.count)
        #expect(mean < 15)
        let size = try FolderDatasets.uniformSize(splits.train)
        #expect(size.height == 20 && size.width == 24)
    }

    @Test func resizeOnLoadIsShorterSideThenCentreCrop() throws {
        // A 20x40 image whose left and right quarters are red and blue and middle green:
        // shorter side 20 → 10, width 40 → 20, centre crop 10x10 keeps the green middle.
        var pixels = [UInt8](repeating: 0, count: 20 * 40 * 3)
        for y in 0..<20 { for x in 0..<40 { pixels[(y * 40 + x) * 3 + (x < 10 ? 0 : x >= 30 ? 2 : 1)] = 200 } }
        let image = JPEG.Image(height: 20, width: 40, pixels: pixels)
        let out = ImageResize.resizeShorterSideCenterCrop(image, size: 10)
        #expect(out.height == 10 && out.width == 10)
        let o = out.pixels
        // Columns 1-8 see only green source pixels; the filter of columns 0 and 9 reaches
        // into the red and blue quarters (it is 4 source pixels wide at scale 2).
        var green = true
        for y in 0..<10 { for x in 1...8 { let i = y * 10 + x; green = green && o[i * 3 + 1] == 200 && o[i * 3] == 0 && o[i * 3 + 2] == 0 } }
        #expect(o[0] > 0 && o[9 * 3 + 2] > 0)
        #expect(green)
        // A uniform image stays uniform at any scale (weights sum to one).
        let flat = JPEG.Image(height: 37, width: 53, pixels: [UInt8](repeating: 77, count: 37 * 53 * 3))
        #expect(ImageResize.resizeShorterSideCenterCrop(flat, size: 16).pixels.allSatisfy { $0 == 77 })
        // The image's own size is the identity.
        let same = try Self.images(perClass: 1, height: 16, width: 16)
        let own = JPEG.Image(height: 16, width: 16, pixels: Array(same.image(0)))
        #expect(ImageResize.resizeShorterSideCenterCrop(own, size: 16) == own)
        // Downscaling averages (antialiasing): 2x2 checkerboard blocks of 0/200 shrink to 100.
        var checker = [UInt8](repeating: 0, count: 32 * 32 * 3)
        for y in 0..<32 { for x in 0..<32 where (x + y) % 2 == 0 { for c in 0..<3 { checker[(y * 32 + x) * 3 + c] = 200 } } }
        let small = ImageResize.resizeShorterSideCenterCrop(JPEG.Image(height: 32, width: 32, pixels: checker), size: 8)
        let averaged = small.pixels.allSatisfy { (v: UInt8) -> Bool in abs(Int(v) - 100) <= 2 }
        #expect(averaged)
    }

    @Test func mixedSizesLoadWithImageSizeAndFailWithout() throws {
        let dir = try TempDir(); defer { dir.remove() }
        try DatasetWriters.writeClassFolders(try Self.images(perClass: 2), split: "train", root: dir.path, format: .png)
        try DatasetWriters.writeClassFolders(try Self.images(perClass: 1, split: "test"), split: "test", root: dir.path, format: .png)
        let odd = try Self.images(perClass: 1, height: 30, width: 30)
        try dir.write(try PNG.encode(pixels: Array(odd.image(1)), height: 30, width: 30, channels: 3), to: "train/bus/zz_big.png")
        let plain = try FolderDatasets.openImageFolder(root: dir.path)
        expectDataError(naming: dir.file("train/bus/zz_big.png"), { if case .mixedImageSizes = $0 { true } else { false } }) {
            try FolderDatasets.uniformSize(plain.train)
        }
        expectDataError(naming: dir.file("train/bus/zz_big.png"), { if case .mixedImageSizes = $0 { true } else { false } }) {
            try FolderDatasets.decodeAll(plain.train)
        }
        let resized = try FolderDatasets.openImageFolder(root: dir.path, imageSize: 16)
        let cached = try FolderDatasets.decodeAll(resized.train)
        #expect(cached.height == 16 && cached.width == 16 && cached.count == 7)
        // In memory or per batch: the same bytes.
        for i in 0..<cached.count { #expect(try resized.train.withImage(at: i) { Array($0.pixels) } == Array(cached.image(i))) }
    }

    @Test func memoryAndPerBatchDecodingGiveIdenticalBatches() throws {
        let dir = try TempDir(); defer { dir.remove() }
        try DatasetWriters.writeClassFolders(try Self.images(perClass: 5), split: "train", root: dir.path, format: .jpeg)
        try DatasetWriters.writeClassFolders(try Self.images(perClass: 1, split: "test"), split: "test", root: dir.path, format: .jpeg)
        let folder = try FolderDatasets.openImageFolder(root: dir.path, imageSize: 16).train
        let memory = try FolderDatasets.decodeAll(folder)
        let pipeline = Preprocessing(spatial: .randomResizedCrop(size: 16), horizontalFlip: true, brightness: nil, normalization: .imageNet)
        let a = try BatchAssembler(source: folder, preprocessing: pipeline, seed: 7).assemble(indices: Array(0..<15), phase: 1, epoch: 2, threads: 2)
        let b = try BatchAssembler(source: memory, preprocessing: pipeline, seed: 7).assemble(indices: Array(0..<15), phase: 1, epoch: 2, threads: 1)
        #expect(a.images.floats == b.images.floats)
        #expect(a.labels == b.labels)
    }

    @Test func tinyImageNetOfficialLayout() throws {
        let dir = try TempDir(); defer { dir.remove() }
        let wnids = ["n09999999", "n01443537", "n02124075"]  // wnids.txt is not sorted in the real file either
        let train = try SyntheticImages.dataset(classCount: 3, perClass: 3, height: 64, width: 64, seed: 5)
        let val = try SyntheticImages.dataset(classCount: 3, perClass: 2, height: 64, width: 64, seed: 6, split: "val")
        try DatasetWriters.writeTinyImageNet(train: train, val: val, wnids: wnids, root: dir.path)
        let splits = try FolderDatasets.openTinyImageNet(root: dir.path)
        // Labels follow the sorted wnids: dataset label 0 of the writer (n09999999) is label 2.
        #expect(splits.train.classNames == wnids.sorted())
        let remap = wnids.map { wnids.sorted().firstIndex(of: $0)! }
        #expect(splits.train.countsPerClass() == [3, 3, 3] && splits.test.countsPerClass() == [2, 2, 2])
        let expectedTrain = train.labels.map { remap[$0] }.sorted()
        #expect(splits.train.labels == expectedTrain)
        #expect(splits.test.labels == [0, 0, 1, 1, 2, 2])
        // The first training image of n09999999 is the writer's image 0.
        let first = splits.train.paths.firstIndex { $0.hasSuffix("n09999999_0.JPEG") }!
        #expect(splits.train.labels[first] == 2)
        let decoded = try splits.train.withImage(at: first) { Array($0.pixels) }
        let diff: [Int] = zip(decoded, train.image(0)).map { (a: UInt8, b: UInt8) -> Int in abs(Int(a) - Int(b)) }
        #expect(Double(diff.reduce(0, +)) / Double(diff.count) < 15)
        #expect(splits.labelFiles.count == 2)
        let size = try FolderDatasets.uniformSize(splits.train)
        #expect(size.height == 64 && size.width == 64)
    }

    @Test func cifar10BothOfficialFormats() throws {
        let dir = try TempDir(); defer { dir.remove() }
        let names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
        let s = try SyntheticImages.dataset(classCount: 10, perClass: 5, seed: 9)
        let data = try ImageDataset(name: "c10", height: 32, width: 32, channels: 3, pixels: s.pixels, labels: s.labels, classNames: names)
        for split in CIFAR.Split.allCases {
            try DatasetWriters.writeCIFARBinary(data, variant: .cifar10, split: split, root: dir.path)
            try DatasetWriters.writeCIFARPickle(data, variant: .cifar10, split: split, root: dir.path)
        }
        let readers: [() throws -> ImageDataset] = [{ try CIFAR.readBinary(root: dir.path, variant: .cifar10, split: .train) },
                                                    { try CIFAR.readPickle(root: dir.path, variant: .cifar10, split: .train) }]
        for read in readers {
            let back = try read()
            #expect(back.classNames == names)
            #expect(back.countsPerClass() == Array(repeating: 5, count: 10))
            // Records are spread over the 5 batch files: image k of file f is data image f + 5k.
            let order: [Int] = (0..<5).flatMap { (f: Int) -> [Int] in Array(stride(from: f, to: 50, by: 5)) }
            #expect(back.labels == order.map { data.labels[$0] })
            #expect(Array(back.image(3)) == Array(data.image(order[3])))
        }
    }

    @Test func folderDigestCoversEveryFileAndIsCached() throws {
        let dir = try TempDir(); defer { dir.remove() }
        try DatasetWriters.writeClassFolders(try Self.images(perClass: 2), split: "train", root: dir.path, format: .png)
        try DatasetWriters.writeClassFolders(try Self.images(perClass: 1, split: "test"), split: "test", root: dir.path, format: .png)
        let splits = try FolderDatasets.openImageFolder(root: dir.path)
        let files = splits.train.paths + splits.test.paths
        let cache = DatasetCache(folder: dir.file("cache"))
        let first = try FolderDigest.digest(files: files, root: dir.path, cache: cache)
        #expect(!first.cached)
        // The definition: SHA-256 over `<relative path>\t<bytes>\t<SHA-256>` lines.
        var text = ""
        for file in files {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
            text += "\(file.dropFirst(dir.path.count + 1))\t\(bytes.count)\t\(SHA256.hex(of: bytes))\n"
        }
        #expect(first.digest == SHA256.hex(of: Array(text.utf8)))
        let second = try FolderDigest.digest(files: files, root: dir.path, cache: cache)
        #expect(second.cached && second.digest == first.digest)
        // Another image content: another listing, hashed again, another digest.
        let other = try Self.images(perClass: 1, seed: 99)
        try dir.write(try PNG.encode(pixels: Array(other.image(0)), height: 20, width: 24, channels: 3), to: String(files[0].dropFirst(dir.path.count + 1)))
        let third = try FolderDigest.digest(files: files, root: dir.path, cache: cache)
        #expect(!third.cached && third.digest != first.digest)
    }

    // MARK: bad layouts: one error naming the file

    /// A valid 3-class PNG folder (2 train, 1 test per class) in a fresh folder.
    static func validFolder() throws -> TempDir {
        let dir = try TempDir()
        try DatasetWriters.writeClassFolders(try images(perClass: 2), split: "train", root: dir.path, format: .png)
        try DatasetWriters.writeClassFolders(try images(perClass: 1, split: "test"), split: "test", root: dir.path, format: .jpeg)
        return dir
    }

    @Test func emptyClassFolder() throws {
        let dir = try Self.validFolder(); defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.file("train/dog"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.file("test/dog"), withIntermediateDirectories: true)
        try dir.write(Array("x".utf8), to: "test/dog/readme.txt")
        expectDataError(naming: dir.file("train/dog"), { if case .emptyClassFolder = $0 { true } else { false } }) {
            try FolderDatasets.openImageFolder(root: dir.path)
        }
    }

    @Test func classInTrainButNotInTestAndTheReverse() throws {
        let dir = try Self.validFolder(); defer { dir.remove() }
        try FileManager.default.moveItem(atPath: dir.file("test/cat"), toPath: dir.file("cat-aside"))
        expectDataError(naming: dir.file("test/cat"), { if case .classMissingInSplit = $0 { true } else { false } }) {
            try FolderDatasets.openImageFolder(root: dir.path)
        }
        try FileManager.default.moveItem(atPath: dir.file("cat-aside"), toPath: dir.file("test/cat"))
        try FileManager.default.moveItem(atPath: dir.file("train/bus"), toPath: dir.file("bus-aside"))
        expectDataError(naming: dir.file("train/bus"), { if case .classMissingInSplit = $0 { true } else { false } }) {
            try FolderDatasets.openImageFolder(root: dir.path)
        }
    }

    @Test func corruptTruncatedAndMisnamedImages() throws {
        let dir = try Self.validFolder(); defer { dir.remove() }
        let splits = try FolderDatasets.openImageFolder(root: dir.path)
        let png = splits.train.paths[1]
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: png)))
        try Data(bytes.prefix(bytes.count / 2)).write(to: URL(fileURLWithPath: png))  // truncated PNG
        expectDataError(naming: png, { if case .corruptImage = $0 { true } else { false } }) { try FolderDatasets.decodeAll(splits.train) }
        expectDataError(naming: png, { if case .corruptImage = $0 { true } else { false } }) { try splits.train.withImage(at: 1) { $0.height } }
        try Data("not an image at all".utf8).write(to: URL(fileURLWithPath: png))
        expectDataError(naming: png, { if case .corruptImage = $0 { true } else { false } }) { try FolderDatasets.headers(splits.train) }
        let jpeg = splits.test.paths[0]
        let jbytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: jpeg)))
        try Data(jbytes.prefix(jbytes.count / 2)).write(to: URL(fileURLWithPath: jpeg))  // truncated JPEG
        expectDataError(naming: jpeg, { if case .corruptImage = $0 { true } else { false } }) { try FolderDatasets.decodeAll(splits.test) }
    }

    @Test func cmykJPEGIsRefusedByName() throws {
        let dir = try Self.validFolder(); defer { dir.remove() }
        let cmyk = try JPEG.encode(pixels: [UInt8](repeating: 90, count: 20 * 24 * 4), height: 20, width: 24, channels: 4)
        try dir.write(cmyk, to: "train/cat/zz_cmyk.jpg")
        let splits = try FolderDatasets.openImageFolder(root: dir.path)
        let path = dir.file("train/cat/zz_cmyk.jpg")
        let checks: [() throws -> Void] = [{ _ = try FolderDatasets.headers(splits.train) }, { _ = try FolderDatasets.decodeAll(splits.train) }]
        for check in checks {
            expectDataError(naming: path, { if case .unsupportedImage(_, let reason) = $0 { reason.contains("CMYK") } else { false } }, check)
        }
    }

    @Test func strayAndUnsupportedFiles() throws {
        let dir = try Self.validFolder(); defer { dir.remove() }
        try dir.write([0x42, 0x4D, 0, 0], to: "train/cat/photo.bmp")
        expectDataError(naming: dir.file("train/cat/photo.bmp"), { if case .unsupportedImage = $0 { true } else { false } }) {
            try FolderDatasets.openImageFolder(root: dir.path)
        }
        try FileManager.default.removeItem(atPath: dir.file("train/cat/photo.bmp"))
        try dir.write([0xFF, 0xD8], to: "train/loose.jpg")
        expectDataError(naming: dir.file("train/loose.jpg"), { if case .unsupportedImage = $0 { true } else { false } }) {
            try FolderDatasets.openImageFolder(root: dir.path)
        }
        try FileManager.default.removeItem(atPath: dir.file("train/loose.jpg"))
        try FileManager.default.removeItem(atPath: dir.file("test"))
        expectDataError(naming: dir.path, { if case .missingSplit = $0 { true } else { false } }) { try FolderDatasets.openImageFolder(root: dir.path) }
        expectDataError(naming: dir.file("nowhere"), { if case .missingFile = $0 { true } else { false } }) { try FolderDatasets.openImageFolder(root: dir.file("nowhere")) }
    }

    @Test func tinyImageNetBadLayouts() throws {
        let dir = try TempDir(); defer { dir.remove() }
        let wnids = ["n01443537", "n02124075"]
        try DatasetWriters.writeTinyImageNet(train: try SyntheticImages.dataset(classCount: 2, perClass: 2, height: 64, width: 64),
                                             val: try SyntheticImages.dataset(classCount: 2, perClass: 1, height: 64, width: 64, split: "val"),
                                             wnids: wnids, root: dir.path)
        let folder = dir.file("tiny-imagenet-200")
        let annotations = folder + "/val/val_annotations.txt"
        let original = try String(contentsOfFile: annotations, encoding: .utf8)
        try (original + "val_0.JPEG\tn07777777\t0\t0\t1\t1\n").write(toFile: annotations, atomically: true, encoding: .utf8)
        expectDataError(naming: annotations, { if case .invalidArgument = $0 { true } else { false } }) { try FolderDatasets.openTinyImageNet(root: dir.path) }
        try (original + "val_77.JPEG\tn01443537\t0\t0\t1\t1\n").write(toFile: annotations, atomically: true, encoding: .utf8)
        expectDataError(naming: folder + "/val/images/val_77.JPEG", { if case .missingFile = $0 { true } else { false } }) { try FolderDatasets.openTinyImageNet(root: dir.path) }
        try original.write(toFile: annotations, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: folder + "/train/n02124075/images")
        expectDataError(naming: folder + "/train/n02124075/images", { if case .missingFile = $0 { true } else { false } }) { try FolderDatasets.openTinyImageNet(root: dir.path) }
        try FileManager.default.removeItem(atPath: folder + "/wnids.txt")
        expectDataError(naming: folder + "/wnids.txt", { if case .missingFile = $0 { true } else { false } }) { try FolderDatasets.openTinyImageNet(root: dir.path) }
    }

    @Test func dataCheckReportsFolders() throws {
        let dir = try Self.validFolder(); defer { dir.remove() }
        let report = try DatasetCheck.run(.imageFolder, root: dir.path)
        #expect(report.classNames == Self.classNames)
        #expect(report.splits.map(\.name) == ["train", "test"])
        #expect(report.splits[0].perClass == [2, 2, 2] && report.splits[1].perClass == [1, 1, 1])
        #expect(report.imageSizes.map(\.size) == ["20x24"] && report.imageSizes[0].count == 9)
        #expect(report.digest?.count == 64 && report.problems.isEmpty)
    }
}
