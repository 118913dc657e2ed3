import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// File reads that turn every failure into a `DataError` naming the path: missing,
/// a folder where a file belongs, permission denied, short read.
enum FileAccess {
    static func read(_ path: String, expected: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw error(path: path, errno: errno, expected: expected) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw error(path: path, errno: errno, expected: expected) }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw DataError.unreadable(path: path, reason: "is a folder, expected \(expected)") }
        let size = Int(info.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        try bytes.withUnsafeMutableBytes { buffer in
            while done < size {
                let n = Glibc.read(fd, buffer.baseAddress! + done, size - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw error(path: path, errno: errno, expected: expected)
                }
                if n == 0 { break }
                done += n
            }
        }
        if done < size { throw DataError.truncated(path: path, expectedBytes: size, actualBytes: done) }
        return bytes
    }

    static func error(path: String, errno code: Int32, expected: String) -> DataError {
        switch code {
        case ENOENT, ENOTDIR: return .missingFile(path: path, expected: expected)
        case EISDIR: return .unreadable(path: path, reason: "is a folder, expected \(expected)")
        default: return .unreadable(path: path, reason: String(cString: strerror(code)))
        }
    }

    static func isDirectory(_ path: String) -> Bool {
        var dir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &dir) && dir.boolValue
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// Sorted entry names of a folder (byte order, as Python's sorted(os.listdir())).
    static func list(_ path: String, expected: String) throws -> [String] {
        guard exists(path) else { throw DataError.missingFile(path: path, expected: expected) }
        guard isDirectory(path) else { throw DataError.unreadable(path: path, reason: "is a file, expected \(expected)") }
        guard let dir = opendir(path) else { throw error(path: path, errno: errno, expected: expected) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    static func join(_ a: String, _ b: String) -> String {
        a.hasSuffix("/") ? a + b : a + "/" + b
    }

    /// The first of `candidates` (relative to root) that exists, for datasets that users
    /// unpack either inside the archive's folder or directly into the root.
    static func locate(root: String, _ candidates: [String]) -> String? {
        candidates.map { join(root, $0) }.first(where: exists)
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw DataError.unreadable(path: path, reason: "cannot be written")
        }
    }
}
