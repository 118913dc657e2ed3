/// A dataset held in memory: N images of one size as uint8 HWC (row-major, channels
/// innermost, like the NHWC tensors they become), integer labels and class names.
/// CIFAR and Fashion-MNIST load entirely into one of these.
public struct ImageDataset: Sendable, Equatable {
    public let name: String
    public let height: Int
    public let width: Int
    public let channels: Int
    public let pixels: [UInt8]
    public let labels: [Int]
    public let classNames: [String]

    public init(name: String, height: Int, width: Int, channels: Int, pixels: [UInt8], labels: [Int], classNames: [String]) throws {
        guard pixels.count == labels.count * height * width * channels else {
            throw DataError.invalidArgument("dataset \(name): \(pixels.count) pixel bytes for \(labels.count) images of \(height)x\(width)x\(channels)")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classNames.count }) {
            throw DataError.labelOutOfRange(path: name, record: bad, label: labels[bad], classCount: classNames.count)
        }
        self.name = name
        self.height = height
        self.width = width
        self.channels = channels
        self.pixels = pixels
        self.labels = labels
        self.classNames = classNames
    }

    public var count: Int { labels.count }
    public var imageBytes: Int { height * width * channels }

    /// Pixels of image i, HWC.
    public func image(_ i: Int) -> ArraySlice<UInt8> { pixels[(i * imageBytes)..<((i + 1) * imageBytes)] }

    public func countsPerClass() -> [Int] {
        var counts = [Int](repeating: 0, count: classNames.count)
        for label in labels { counts[label] += 1 }
        return counts
    }

    /// Zero-pads each side to `size` and repeats a single channel to `channels`. Used to
    /// feed 28x28 grey Fashion-MNIST to the CIFAR ResNet-32 (32x32x3) unchanged: the
    /// network and the augmentation stay exactly those of the CIFAR protocol.
    public func padded(to size: Int, channels outChannels: Int) throws -> ImageDataset {
        guard size >= height, size >= width, channels == outChannels || channels == 1 else {
            throw DataError.invalidArgument("cannot pad \(height)x\(width)x\(channels) to \(size)x\(size)x\(outChannels)")
        }
        let top = (size - height) / 2, left = (size - width) / 2
        let outBytes = size * size * outChannels
        var out = [UInt8](repeating: 0, count: count * outBytes)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for n in 0..<count {
                    for y in 0..<height {
                        for x in 0..<width {
                            let s = ((n * height + y) * width + x) * channels
                            let d = n * outBytes + ((y + top) * size + x + left) * outChannels
                            for c in 0..<outChannels { dst[d + c] = src[s + (channels == 1 ? 0 : c)] }
                        }
                    }
                }
            }
        }
        return try ImageDataset(name: name, height: size, width: size, channels: outChannels, pixels: out, labels: labels, classNames: classNames)
    }
}

/// Read access to decoded images for the batch assembler, whether they sit in memory
/// (CIFAR) or are decoded from files on demand (ImageNet).
public protocol ImageSource: Sendable {
    var count: Int { get }
    var labels: [Int] { get }
    var classNames: [String] { get }
    /// Calls `body` with image i as HWC uint8 pixels; the pointer is valid only inside.
    func withImage<R>(at index: Int, _ body: (ImageView) throws -> R) throws -> R
}

/// A borrowed HWC uint8 image.
public struct ImageView {
    public let pixels: UnsafeBufferPointer<UInt8>
    public let height: Int
    public let width: Int
    public let channels: Int
}

extension ImageDataset: ImageSource {
    public func withImage<R>(at index: Int, _ body: (ImageView) throws -> R) throws -> R {
        try pixels.withUnsafeBufferPointer { all in
            let start = all.baseAddress! + index * imageBytes
            return try body(ImageView(pixels: UnsafeBufferPointer(start: start, count: imageBytes), height: height, width: width, channels: channels))
        }
    }
}

extension ImageDataset {
    /// The first `perClass` images of every class, in file order (reduced protocols).
    public func firstImages(perClass: Int) throws -> ImageDataset {
        var taken = [Int](repeating: 0, count: classNames.count)
        var keep: [Int] = []
        for (i, label) in labels.enumerated() where taken[label] < perClass {
            taken[label] += 1
            keep.append(i)
        }
        var subset: [UInt8] = []
        subset.reserveCapacity(keep.count * imageBytes)
        for i in keep { subset += image(i) }
        return try ImageDataset(name: name, height: height, width: width, channels: channels, pixels: subset,
                                labels: keep.map { labels[$0] }, classNames: classNames)
    }
}
