/// POSIX ustar archives, written and read here so that bundles need no libarchive and
/// are byte-for-byte reproducible (fixed owner, mode and time). Only what bundles use:
/// regular files and one folder, names up to 100 bytes.
enum TarArchive {
    struct Entry: Equatable {
        var name: String
        var contents: [UInt8]
    }

    static let block = 512

    /// An archive of `files` inside the folder `folder`, every entry stamped `mtime`.
    static func write(folder: String, files: [Entry], mtime: Int) throws(BundleError) -> [UInt8] {
        var out: [UInt8] = []
        out += try header(name: folder + "/", size: 0, type: UInt8(ascii: "5"), mode: 0o755, mtime: mtime)
        for file in files {
            out += try header(name: folder + "/" + file.name, size: file.contents.count, type: UInt8(ascii: "0"), mode: 0o644, mtime: mtime)
            out += file.contents
            out += [UInt8](repeating: 0, count: (block - file.contents.count % block) % block)
        }
        out += [UInt8](repeating: 0, count: 2 * block)
        return out
    }

    private static func header(name: String, size: Int, type: UInt8, mode: Int, mtime: Int) throws(BundleError) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: block)
        let nameBytes = Array(name.utf8)
        guard nameBytes.count <= 100 else { throw .invalidResult("archive member name longer than 100 bytes: \(name)") }
        func put(_ bytes: [UInt8], at offset: Int) { for (i, b) in bytes.enumerated() { h[offset + i] = b } }
        // Numeric fields: zero-padded octal digits followed by a NUL.
        func octal(_ value: Int, at offset: Int, width: Int) {
            let digits = String(value, radix: 8)
            put(Array((String(repeating: "0", count: width - 1 - digits.count) + digits).utf8) + [0], at: offset)
        }
        put(nameBytes, at: 0)
        octal(mode, at: 100, width: 8)
        octal(0, at: 108, width: 8)            // uid
        octal(0, at: 116, width: 8)            // gid
        octal(size, at: 124, width: 12)
        octal(mtime, at: 136, width: 12)
        put(Array(repeating: UInt8(ascii: " "), count: 8), at: 148)  // checksum counts as spaces
        h[156] = type
        put(Array("ustar".utf8) + [0], at: 257)
        put(Array("00".utf8), at: 263)
        put(Array("cilbench".utf8), at: 265)   // uname
        put(Array("cilbench".utf8), at: 297)   // gname
        let sum = h.reduce(0) { $0 + Int($1) }
        let digits = String(sum, radix: 8)
        put(Array((String(repeating: "0", count: 6 - digits.count) + digits).utf8) + [0, UInt8(ascii: " ")], at: 148)
        return h
    }

    /// The regular files of an archive, by file name (folders dropped).
    static func read(_ data: [UInt8]) throws(BundleError) -> [Entry] {
        var entries: [Entry] = []
        var offset = 0
        while true {
            guard offset + block <= data.count else { throw .corrupt("tar archive ends inside a header (no end-of-archive blocks)") }
            let h = data[offset..<(offset + block)]
            if h.allSatisfy({ $0 == 0 }) { return entries }
            guard Array(h[(offset + 257)..<(offset + 262)]) == Array("ustar".utf8) else {
                throw .corrupt("tar header at byte \(offset) is not ustar")
            }
            var sum = 0
            for (i, b) in h.enumerated() { sum += (148..<156).contains(i) ? Int(UInt8(ascii: " ")) : Int(b) }
            guard let stored = octalField(h, offset + 148, 8), stored == sum else {
                throw .corrupt("tar header checksum mismatch at byte \(offset)")
            }
            guard let size = octalField(h, offset + 124, 12) else { throw .corrupt("tar header at byte \(offset) has no size") }
            let nameBytes = h[offset..<(offset + 100)].prefix { $0 != 0 }
            var name = String(decoding: nameBytes, as: UTF8.self)
            let type = h[offset + 156]
            offset += block
            guard offset + size <= data.count else { throw .corrupt("tar member \(name) is truncated") }
            if type == UInt8(ascii: "0") || type == 0 {
                // Bundles hold one folder of files; keep the file name whatever the folder
                // (GNU tar writes `./folder/...` when re-packing an unpacked bundle).
                if let slash = name.lastIndex(of: "/") { name = String(name[name.index(after: slash)...]) }
                entries.append(Entry(name: name, contents: Array(data[offset..<(offset + size)])))
            }
            offset += (size + block - 1) / block * block
        }
    }

    private static func octalField(_ h: ArraySlice<UInt8>, _ start: Int, _ width: Int) -> Int? {
        let text = String(decoding: h[start..<(start + width)].prefix { $0 != 0 && $0 != UInt8(ascii: " ") }, as: UTF8.self)
            .trimmingPrefix(" ")
        return Int(text, radix: 8)
    }
}

private extension String {
    func trimmingPrefix(_ c: Character) -> String { String(drop { $0 == c }) }
}
