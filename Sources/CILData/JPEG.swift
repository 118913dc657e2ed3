import CJPEG
import Foundation

/// JPEG decode/encode through libjpeg-turbo. Decoding always yields 8-bit RGB (grey
/// images are expanded, as PIL's convert('RGB') does).
public enum JPEG {
    public struct Image: Sendable, Equatable {
        public let height: Int
        public let width: Int
        public let pixels: [UInt8]  // HWC, 3 channels

        public init(height: Int, width: Int, pixels: [UInt8]) {
            self.height = height
            self.width = width
            self.pixels = pixels
        }
    }

    public static func decode(_ data: [UInt8], path: String) throws -> Image {
        guard data.count >= 2, data[0] == 0xFF, data[1] == 0xD8 else {
            throw DataError.corruptImage(path: path, reason: "no JPEG start-of-image marker")
        }
        var out: UnsafeMutablePointer<UInt8>?
        var width: Int32 = 0, height: Int32 = 0
        var message = [CChar](repeating: 0, count: Int(JMSG_LENGTH_MAX))
        let status = data.withUnsafeBufferPointer { buf in
            cil_jpeg_decode_rgb(buf.baseAddress, UInt(buf.count), &out, &width, &height, &message)
        }
        guard status == 0, let pixels = out else {
            let reason = cString(message)
            if reason.hasPrefix("a CMYK JPEG") { throw DataError.unsupportedImage(path: path, reason: reason) }
            throw DataError.corruptImage(path: path, reason: "JPEG: \(reason)")
        }
        defer { free(pixels) }
        let n = Int(width) * Int(height) * 3
        return Image(height: Int(height), width: Int(width), pixels: Array(UnsafeBufferPointer(start: pixels, count: n)))
    }

    public static func decodeFile(_ path: String) throws -> Image {
        try decode(try FileAccess.read(path, expected: "a JPEG image"), path: path)
    }

    /// Size and colour model from the header alone (for size checks and histograms).
    public static func header(_ data: [UInt8], path: String) throws -> ImageHeader {
        guard data.count >= 2, data[0] == 0xFF, data[1] == 0xD8 else {
            throw DataError.corruptImage(path: path, reason: "no JPEG start-of-image marker")
        }
        var width: Int32 = 0, height: Int32 = 0, cmyk: Int32 = 0
        var message = [CChar](repeating: 0, count: Int(JMSG_LENGTH_MAX))
        let status = data.withUnsafeBufferPointer { buf in
            cil_jpeg_header(buf.baseAddress, UInt(buf.count), &width, &height, &cmyk, &message)
        }
        guard status == 0 else { throw DataError.corruptImage(path: path, reason: "JPEG: \(cString(message))") }
        return ImageHeader(format: .jpeg, height: Int(height), width: Int(width), cmyk: cmyk != 0)
    }

    /// Encodes 1 (grey), 3 (RGB) or 4 (CMYK, for tests of the decoder's refusal) channels.
    public static func encode(pixels: [UInt8], height: Int, width: Int, channels: Int, quality: Int = 95) throws -> [UInt8] {
        guard pixels.count == height * width * channels, channels == 1 || channels == 3 || channels == 4 else {
            throw DataError.invalidArgument("JPEG encode: \(pixels.count) bytes for \(height)x\(width)x\(channels)")
        }
        var out: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        var message = [CChar](repeating: 0, count: Int(JMSG_LENGTH_MAX))
        let status = pixels.withUnsafeBufferPointer { buf in
            cil_jpeg_encode(buf.baseAddress, Int32(width), Int32(height), Int32(channels), Int32(quality), &out, &size, &message)
        }
        defer { free(out) }
        guard status == 0, let bytes = out else { throw DataError.invalidArgument("JPEG encode failed: \(cString(message))") }
        return Array(UnsafeBufferPointer(start: bytes, count: Int(size)))
    }
}

/// A NUL-terminated C buffer as a String.
func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
