import CPNG
import Foundation

/// PNG decode/encode through libpng's simplified API (Debian libpng-dev). Decoding always
/// yields 8-bit RGB: grey is replicated, palettes expanded, 16-bit reduced and an alpha
/// channel dropped, as PIL's convert('RGB') does for torchvision's ImageFolder.
public enum PNG {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    static func isPNG(_ data: [UInt8]) -> Bool { data.count >= 8 && Array(data[0..<8]) == signature }

    public static func decode(_ data: [UInt8], path: String) throws -> JPEG.Image {
        guard isPNG(data) else { throw DataError.corruptImage(path: path, reason: "PNG: no PNG signature") }
        var out: UnsafeMutablePointer<UInt8>?
        var width: Int32 = 0, height: Int32 = 0
        var message = [CChar](repeating: 0, count: 64)
        let status = data.withUnsafeBufferPointer { buf in
            cil_png_decode_rgb(buf.baseAddress, buf.count, &out, &width, &height, &message)
        }
        guard status == 0, let pixels = out else { throw DataError.corruptImage(path: path, reason: "PNG: \(cString(message))") }
        defer { free(pixels) }
        let n = Int(width) * Int(height) * 3
        return JPEG.Image(height: Int(height), width: Int(width), pixels: Array(UnsafeBufferPointer(start: pixels, count: n)))
    }

    public static func header(_ data: [UInt8], path: String) throws -> ImageHeader {
        guard isPNG(data) else { throw DataError.corruptImage(path: path, reason: "PNG: no PNG signature") }
        var width: Int32 = 0, height: Int32 = 0, alpha: Int32 = 0
        var message = [CChar](repeating: 0, count: 64)
        let status = data.withUnsafeBufferPointer { buf in cil_png_header(buf.baseAddress, buf.count, &width, &height, &alpha, &message) }
        guard status == 0 else { throw DataError.corruptImage(path: path, reason: "PNG: \(cString(message))") }
        return ImageHeader(format: .png, height: Int(height), width: Int(width), cmyk: false)
    }

    /// Encodes 1 (grey), 3 (RGB) or 4 (RGBA) channels, losslessly.
    public static func encode(pixels: [UInt8], height: Int, width: Int, channels: Int) throws -> [UInt8] {
        guard pixels.count == height * width * channels, [1, 3, 4].contains(channels) else {
            throw DataError.invalidArgument("PNG encode: \(pixels.count) bytes for \(height)x\(width)x\(channels)")
        }
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 64)
        let status = pixels.withUnsafeBufferPointer { buf in
            cil_png_encode(buf.baseAddress, Int32(width), Int32(height), Int32(channels), &out, &size, &message)
        }
        defer { free(out) }
        guard status == 0, let bytes = out else { throw DataError.invalidArgument("PNG encode failed: \(cString(message))") }
        return Array(UnsafeBufferPointer(start: bytes, count: size))
    }
}
