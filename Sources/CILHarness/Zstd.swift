import CZstd

/// One-shot zstd compression of a whole bundle (bundles are a few hundred kilobytes).
enum Zstd {
    static func compress(_ input: [UInt8], level: Int32 = 19) throws(BundleError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
        let written = out.withUnsafeMutableBytes { o in
            input.withUnsafeBytes { i in ZSTD_compress(o.baseAddress, o.count, i.baseAddress, i.count, level) }
        }
        if ZSTD_isError(written) != 0 { throw .io("zstd compression failed: \(String(cString: ZSTD_getErrorName(written)))") }
        out.removeSubrange(written...)
        return out
    }

    /// Streams through the input so frames without a recorded size (e.g. from `zstd` on a
    /// pipe) also decompress; `limit` stops a corrupt or hostile file from filling memory.
    static func decompress(_ input: [UInt8], limit: Int = 1 << 30) throws(BundleError) -> [UInt8] {
        guard let stream = ZSTD_createDStream() else { throw .io("zstd: cannot allocate a decompression stream") }
        defer { ZSTD_freeDStream(stream) }
        ZSTD_initDStream(stream)
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: ZSTD_DStreamOutSize())
        var failure: String?
        var lastResult = 0
        input.withUnsafeBytes { i in
            var inBuffer = ZSTD_inBuffer(src: i.baseAddress, size: i.count, pos: 0)
            repeat {
                let produced: Int = chunk.withUnsafeMutableBytes { o in
                    var outBuffer = ZSTD_outBuffer(dst: o.baseAddress, size: o.count, pos: 0)
                    lastResult = ZSTD_decompressStream(stream, &outBuffer, &inBuffer)
                    return outBuffer.pos
                }
                if ZSTD_isError(lastResult) != 0 { failure = String(cString: ZSTD_getErrorName(lastResult)); return }
                output += chunk[0..<produced]
                if output.count > limit { failure = "more than \(limit) bytes of content"; return }
                // 0 means a frame ended and was flushed; stop once the input is used up then,
                // or when no progress is possible (a truncated frame).
                if inBuffer.pos == inBuffer.size && (lastResult == 0 || produced == 0) { break }
            } while true
        }
        if let failure { throw .corrupt("not a valid zstd stream (\(failure))") }
        if lastResult != 0 { throw .corrupt("the zstd stream is truncated") }
        return output
    }
}
