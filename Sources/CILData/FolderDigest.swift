import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What identifies the exact images of a folder dataset: a SHA-256 over one line per file,
/// `<path relative to the root>\t<bytes>\t<SHA-256 of the content>`, in the order the
/// dataset lists them. Hashing every file of a large folder takes a while, so the result
/// is kept in a `DatasetCache` under a key made of every file's path, size and
/// modification time: a second run stats the files and reads nothing.
public enum FolderDigest {
    /// The digest and whether it came from the cache.
    public static func digest(files: [String], root: String, threads: Int = 2, cache: DatasetCache? = nil) throws -> (digest: String, cached: Bool) {
        let key = try listingKey(files: files, root: root)
        if let cache, let hit = cache.value(for: "files-\(key)") { return (hit, true) }
        let hashes = try FolderDatasets.parallelMap(count: files.count, threads: threads) { i in
            let bytes = try FileAccess.read(files[i], expected: "a dataset file")
            return "\(bytes.count)\t\(SHA256.hex(of: bytes))"
        }
        var text = ""
        for (file, hash) in zip(files, hashes) { text += "\(relative(file, to: root))\t\(hash)\n" }
        let digest = SHA256.hex(of: Array(text.utf8))
        try cache?.store(digest, for: "files-\(key)")
        return (digest, false)
    }

    /// SHA-256 over every file's relative path, size and modification time (ns).
    public static func listingKey(files: [String], root: String) throws -> String {
        var text = ""
        for file in files {
            var info = stat()
            guard stat(file, &info) == 0 else { throw FileAccess.error(path: file, errno: errno, expected: "a dataset file") }
            text += "\(relative(file, to: root))\t\(info.st_size)\t\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)\n"
        }
        return SHA256.hex(of: Array(text.utf8))
    }

    static func relative(_ path: String, to root: String) -> String {
        let prefix = root.hasSuffix("/") ? root : root + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }
}

/// Small derived facts about a dataset (its digest, its measured statistics) kept as one
/// file per key in a folder beside the run output, written to a temporary name and renamed.
public struct DatasetCache: Sendable {
    public let folder: String

    public init(folder: String) { self.folder = folder }

    public func value(for key: String) -> String? {
        guard let bytes = try? FileAccess.read(FileAccess.join(folder, key), expected: "a dataset cache entry") else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    public func store(_ value: String, for key: String) throws {
        let path = FileAccess.join(folder, key)
        let temporary = path + ".tmp-\(getpid())"
        try FileAccess.write(Array((value + "\n").utf8), to: temporary)
        guard rename(temporary, path) == 0 else {
            throw DataError.unreadable(path: path, reason: "cannot be written (\(String(cString: strerror(errno))))")
        }
    }
}
