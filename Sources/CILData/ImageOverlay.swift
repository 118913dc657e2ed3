/// An image source with some images replaced: Mnemonics writes its optimised exemplars
/// back as uint8 images of the original size, and every later read sees those.
public struct OverlaidImageSource: ImageSource {
    public let base: any ImageSource
    /// Replacement HWC uint8 pixels by index, each of the base image's size.
    public let overrides: [Int: [UInt8]]

    public init(base: any ImageSource, overrides: [Int: [UInt8]]) {
        self.base = base
        self.overrides = overrides
    }

    public var count: Int { base.count }
    public var labels: [Int] { base.labels }
    public var classNames: [String] { base.classNames }

    public func withImage<R>(at index: Int, _ body: (ImageView) throws -> R) throws -> R {
        guard let replaced = overrides[index] else { return try base.withImage(at: index, body) }
        return try base.withImage(at: index) { original in
            guard replaced.count == original.pixels.count else {
                throw DataError.invalidArgument("replacement of image \(index) has \(replaced.count) bytes, the image \(original.pixels.count)")
            }
            return try replaced.withUnsafeBufferPointer {
                try body(ImageView(pixels: $0, height: original.height, width: original.width, channels: original.channels))
            }
        }
    }
}
