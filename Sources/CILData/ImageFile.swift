/// One image file of a folder dataset, whatever its format: JPEG (libjpeg-turbo) or PNG
/// (libpng), told apart by their first bytes, not the file name. Every image comes out
/// 8-bit RGB HWC; grey images are replicated to three channels (PIL's convert('RGB')), CMYK
/// JPEGs are refused with an error naming the file.
public enum ImageFile {
    /// Names a folder dataset takes as images (case-insensitive).
    public static let extensions = [".jpg", ".jpeg", ".png"]
    /// Image formats seen in the wild that are refused by name, so that a folder of them is
    /// an error rather than silently empty.
    static let unsupportedExtensions = [".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"]

    public static func isImage(_ name: String) -> Bool {
        let lower = name.lowercased()
        return extensions.contains { lower.hasSuffix($0) }
    }

    static func isUnsupportedImage(_ name: String) -> Bool {
        let lower = name.lowercased()
        return unsupportedExtensions.contains { lower.hasSuffix($0) }
    }

    public static func decode(_ data: [UInt8], path: String) throws -> JPEG.Image {
        if PNG.isPNG(data) { return try PNG.decode(data, path: path) }
        if data.count >= 2, data[0] == 0xFF, data[1] == 0xD8 { return try JPEG.decode(data, path: path) }
        throw DataError.corruptImage(path: path, reason: "neither a JPEG nor a PNG by its first bytes")
    }

    public static func decodeFile(_ path: String) throws -> JPEG.Image {
        try decode(try FileAccess.read(path, expected: "an image"), path: path)
    }

    public static func header(_ data: [UInt8], path: String) throws -> ImageHeader {
        if PNG.isPNG(data) { return try PNG.header(data, path: path) }
        if data.count >= 2, data[0] == 0xFF, data[1] == 0xD8 { return try JPEG.header(data, path: path) }
        throw DataError.corruptImage(path: path, reason: "neither a JPEG nor a PNG by its first bytes")
    }

    /// Decodes and, with `size`, resizes the shorter side to `size` then centre-crops
    /// size x size (torchvision Resize(size) + CenterCrop(size)).
    public static func load(_ path: String, size: Int?) throws -> JPEG.Image {
        let image = try decodeFile(path)
        guard let size else { return image }
        return ImageResize.resizeShorterSideCenterCrop(image, size: size)
    }
}

/// What an image's header says.
public struct ImageHeader: Sendable, Hashable {
    public enum Format: String, Sendable { case jpeg, png }
    public let format: Format
    public let height: Int
    public let width: Int
    public let cmyk: Bool
}

/// Resizing of stored images (uint8 in, uint8 out), done once per image on load.
public enum ImageResize {
    /// Shorter side to `size` (the longer one to int(size * long / short), as torchvision's
    /// Resize computes it), then the central size x size window (CenterCrop rounds the offset).
    /// The filter is PIL's antialiased bilinear: a triangle stretched by the downscale factor,
    /// so shrinking a 500x375 photo to 64 averages every source pixel instead of skipping
    /// most of them. Float arithmetic, fixed order: the same bytes on every run.
    public static func resizeShorterSideCenterCrop(_ image: JPEG.Image, size: Int) -> JPEG.Image {
        let h = image.height, w = image.width
        if h == size && w == size { return image }
        let (rh, rw) = h <= w ? (size, max(size, size * w / h)) : (max(size, size * h / w), size)
        let top = Int((Double(rh - size) / 2).rounded()), left = Int((Double(rw - size) / 2).rounded())
        let xs = coefficients(inSize: w, outSize: rw, first: left, count: size)
        let ys = coefficients(inSize: h, outSize: rh, first: top, count: size)
        // Horizontal pass over the source rows the vertical pass reads.
        let rowLow = ys.map(\.start).min() ?? 0, rowHigh = ys.map { $0.start + $0.weights.count }.max() ?? h
        var mid = [Float](repeating: 0, count: (rowHigh - rowLow) * size * 3)
        image.pixels.withUnsafeBufferPointer { src in
            for y in rowLow..<rowHigh {
                for x in 0..<size {
                    let c = xs[x]
                    var r: Float = 0, g: Float = 0, b: Float = 0
                    for (k, weight) in c.weights.enumerated() {
                        let s = (y * w + c.start + k) * 3
                        r += weight * Float(src[s]); g += weight * Float(src[s + 1]); b += weight * Float(src[s + 2])
                    }
                    let o = ((y - rowLow) * size + x) * 3
                    mid[o] = r; mid[o + 1] = g; mid[o + 2] = b
                }
            }
        }
        var out = [UInt8](repeating: 0, count: size * size * 3)
        for y in 0..<size {
            let c = ys[y]
            for x in 0..<size {
                for ch in 0..<3 {
                    var v: Float = 0
                    for (k, weight) in c.weights.enumerated() { v += weight * mid[((c.start + k - rowLow) * size + x) * 3 + ch] }
                    out[(y * size + x) * 3 + ch] = UInt8(min(255, max(0, v.rounded())))
                }
            }
        }
        return JPEG.Image(height: size, width: size, pixels: out)
    }

    /// Per output pixel (first ..< first + count of an axis resized inSize → outSize): the
    /// first source pixel and normalised triangle-filter weights (PIL's precompute_coeffs).
    static func coefficients(inSize: Int, outSize: Int, first: Int, count: Int) -> [(start: Int, weights: [Float])] {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filterScale  // bilinear support 1, stretched
        return (first..<(first + count)).map { i in
            let center = (Double(i) + 0.5) * scale
            let low = max(0, Int((center - support + 0.5).rounded(.down)))
            let high = min(inSize, Int((center + support + 0.5).rounded(.down)))
            var weights: [Double] = []
            for k in low..<max(low + 1, high) {
                let t = abs((Double(k) - center + 0.5) / filterScale)
                weights.append(max(0, 1 - t))
            }
            let total = weights.reduce(0, +)
            return (low, weights.map { Float(total > 0 ? $0 / total : 1 / Double(weights.count)) })
        }
    }
}
