import Foundation

/// Writers of tiny datasets in each official on-disk format, so that every reader is
/// tested on real-format files (and users can try the suite without the real data).
public enum DatasetWriters {
    /// CIFAR binary: `root/cifar-100-binary/{train,test}.bin` or
    /// `root/cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin`. CIFAR-100's coarse
    /// byte is written as label / 5 (the synthetic data has no superclasses).
    public static func writeCIFARBinary(_ data: ImageDataset, variant: CIFAR.Variant, split: CIFAR.Split, root: String) throws {
        try requireCIFARShape(data)
        let files = CIFAR.binaryFiles(variant, split)
        let folder = FileAccess.join(root, variant.binaryFolder)
        for (f, file) in files.enumerated() {
            var bytes: [UInt8] = []
            for i in stride(from: f, to: data.count, by: files.count) {
                if variant == .cifar100 { bytes.append(UInt8(data.labels[i] / 5)) }
                bytes.append(UInt8(data.labels[i]))
                bytes += CIFAR.chw(fromHWC: data.image(i))
            }
            try FileAccess.write(bytes, to: FileAccess.join(folder, file))
        }
        let names = variant == .cifar100 ? "fine_label_names.txt" : "batches.meta.txt"
        try FileAccess.write(Array((data.classNames.joined(separator: "\n") + "\n").utf8), to: FileAccess.join(folder, names))
    }

    /// CIFAR python pickles, protocol 2 as the official archives: `cifar-100-python/`
    /// `{train,test,meta}` or `cifar-10-batches-py/{data_batch_*,test_batch,batches.meta}`.
    public static func writeCIFARPickle(_ data: ImageDataset, variant: CIFAR.Variant, split: CIFAR.Split, root: String) throws {
        try requireCIFARShape(data)
        let folder = FileAccess.join(root, CIFAR.pickleFolder(variant))
        let files = CIFAR.pickleFiles(variant, split)
        for (f, file) in files.enumerated() {
            let rows = Array(stride(from: f, to: data.count, by: files.count))
            var w = PickleWriter()
            w.op(0x7D); w.op(0x71); w.op(0); w.op(0x28)
            w.str("filenames"); w.strList(rows.map { "synthetic_\($0).png" })
            w.str("batch_label"); w.str("\(split.rawValue) batch \(f + 1) of \(files.count)")
            if variant == .cifar100 {
                w.str("fine_labels"); w.intList(rows.map { data.labels[$0] })
                w.str("coarse_labels"); w.intList(rows.map { data.labels[$0] / 5 })
            } else {
                w.str("labels"); w.intList(rows.map { data.labels[$0] })
            }
            var matrix: [UInt8] = []
            matrix.reserveCapacity(rows.count * 3072)
            for r in rows { matrix += CIFAR.chw(fromHWC: data.image(r)) }
            w.str("data"); w.uint8Matrix(rows: rows.count, columns: 3072, data: matrix)
            w.op(0x75); w.op(0x2E)
            try FileAccess.write(w.bytes, to: FileAccess.join(folder, file))
        }
        var meta = PickleWriter()
        meta.op(0x7D); meta.op(0x28)
        if variant == .cifar100 {
            meta.str("fine_label_names"); meta.strList(data.classNames)
            meta.str("coarse_label_names"); meta.strList((0..<(data.classNames.count + 4) / 5).map { "superclass\($0)" })
        } else {
            meta.str("label_names"); meta.strList(data.classNames)
        }
        meta.op(0x75); meta.op(0x2E)
        try FileAccess.write(meta.bytes, to: FileAccess.join(folder, variant == .cifar100 ? "meta" : "batches.meta"))
    }

    /// Fashion-MNIST idx files (`{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`) of a
    /// single-channel dataset.
    public static func writeIDX(_ data: ImageDataset, split: FashionMNIST.Split, root: String, gzip: Bool) throws {
        guard data.channels == 1 else { throw DataError.invalidArgument("idx images are single-channel; got \(data.channels) channels") }
        var images = IDX.encode(magic: FashionMNIST.imageMagic, dims: [data.count, data.height, data.width], data: data.pixels)
        var labels = IDX.encode(magic: FashionMNIST.labelMagic, dims: [data.count], data: data.labels.map { UInt8($0) })
        if gzip { images = Gzip.compress(images); labels = Gzip.compress(labels) }
        let suffix = gzip ? ".gz" : ""
        try FileAccess.write(images, to: FileAccess.join(root, "\(split.prefix)-images-idx3-ubyte\(suffix)"))
        try FileAccess.write(labels, to: FileAccess.join(root, "\(split.prefix)-labels-idx1-ubyte\(suffix)"))
    }

    /// ILSVRC-style JPEG folders: `root/<split>/<wnid>/<wnid>_<i>.JPEG`, or with `flat`
    /// `root/<split>/ILSVRC2012_val_<i>.JPEG` plus `root/val_labels.txt` (`<file> <wnid>`).
    public static func writeImageFolder(_ data: ImageDataset, wnids: [String], split: String, root: String, flat: Bool = false, quality: Int = 95) throws {
        guard wnids.count == data.classNames.count else {
            throw DataError.invalidArgument("need one wnid per class: \(wnids.count) for \(data.classNames.count)")
        }
        var labelLines: [String] = []
        for i in 0..<data.count {
            let wnid = wnids[data.labels[i]]
            let jpeg = try JPEG.encode(pixels: Array(data.image(i)), height: data.height, width: data.width, channels: data.channels, quality: quality)
            if flat {
                let name = "ILSVRC2012_val_\(String(format: "%08d", i + 1)).JPEG"
                try FileAccess.write(jpeg, to: FileAccess.join(FileAccess.join(root, split), name))
                labelLines.append("\(name) \(wnid)")
            } else {
                try FileAccess.write(jpeg, to: FileAccess.join(root, "\(split)/\(wnid)/\(wnid)_\(i).JPEG"))
            }
        }
        if flat { try FileAccess.write(Array((labelLines.joined(separator: "\n") + "\n").utf8), to: FileAccess.join(root, "val_labels.txt")) }
    }

    /// A researcher's folder: `root/<split>/<class name>/<class>_<i>.jpg|.png` (i zero-padded,
    /// so file order is write order). JPEG is lossy: read-back pixels differ slightly.
    public static func writeClassFolders(_ data: ImageDataset, split: String, root: String, format: ImageHeader.Format, quality: Int = 95) throws {
        for i in 0..<data.count {
            let name = data.classNames[data.labels[i]]
            let pixels = Array(data.image(i))
            let bytes = format == .png
                ? try PNG.encode(pixels: pixels, height: data.height, width: data.width, channels: data.channels)
                : try JPEG.encode(pixels: pixels, height: data.height, width: data.width, channels: data.channels, quality: quality)
            try FileAccess.write(bytes, to: FileAccess.join(root, "\(split)/\(name)/\(name)_\(String(format: "%05d", i)).\(format == .png ? "png" : "jpg")"))
        }
    }

    /// Tiny-ImageNet's official layout under `root/tiny-imagenet-200/`: `wnids.txt` (in the
    /// given order, which need not be sorted, as in the real file), `words.txt`,
    /// `train/<wnid>/images/<wnid>_<i>.JPEG` with `train/<wnid>/<wnid>_boxes.txt`,
    /// `val/images/val_<i>.JPEG` with `val/val_annotations.txt`, and an unlabelled
    /// `test/images/`. Labels of `train`/`val` index `wnids`.
    public static func writeTinyImageNet(train: ImageDataset, val: ImageDataset, wnids: [String], root: String, quality: Int = 95) throws {
        let folder = FileAccess.join(root, FolderDatasets.tinyImageNetFolder)
        try FileAccess.write(Array(wnids.map { $0 + "\n" }.joined().utf8), to: FileAccess.join(folder, "wnids.txt"))
        try FileAccess.write(Array(wnids.map { "\($0)\tsynthetic class \($0)\n" }.joined().utf8), to: FileAccess.join(folder, "words.txt"))
        func jpeg(_ data: ImageDataset, _ i: Int) throws -> [UInt8] {
            try JPEG.encode(pixels: Array(data.image(i)), height: data.height, width: data.width, channels: data.channels, quality: quality)
        }
        var counters = [Int](repeating: 0, count: wnids.count)
        var boxes = [String](repeating: "", count: wnids.count)
        for i in 0..<train.count {
            let label = train.labels[i], wnid = wnids[label]
            let name = "\(wnid)_\(counters[label]).JPEG"
            counters[label] += 1
            try FileAccess.write(try jpeg(train, i), to: FileAccess.join(folder, "train/\(wnid)/images/\(name)"))
            boxes[label] += "\(name)\t0\t0\t\(train.width - 1)\t\(train.height - 1)\n"
        }
        for (label, wnid) in wnids.enumerated() {
            try FileAccess.write(Array(boxes[label].utf8), to: FileAccess.join(folder, "train/\(wnid)/\(wnid)_boxes.txt"))
        }
        var annotations = ""
        for i in 0..<val.count {
            let name = "val_\(i).JPEG"
            try FileAccess.write(try jpeg(val, i), to: FileAccess.join(folder, "val/images/\(name)"))
            annotations += "\(name)\t\(wnids[val.labels[i]])\t0\t0\t\(val.width - 1)\t\(val.height - 1)\n"
        }
        try FileAccess.write(Array(annotations.utf8), to: FileAccess.join(folder, "val/val_annotations.txt"))
        if val.count > 0 { try FileAccess.write(try jpeg(val, 0), to: FileAccess.join(folder, "test/images/test_0.JPEG")) }
    }

    static func requireCIFARShape(_ data: ImageDataset) throws {
        guard data.height == 32, data.width == 32, data.channels == 3 else {
            throw DataError.invalidArgument("CIFAR files hold 32x32x3 images; got \(data.height)x\(data.width)x\(data.channels)")
        }
    }
}

import Foundation
