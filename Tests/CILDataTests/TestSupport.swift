import CILData
import Foundation
import Testing

/// A fresh folder under the system temp dir, removed by `remove()`.
struct TempDir {
    let path: String
    init(_ tag: String = #function) throws {
        let safe = tag.filter { $0.isLetter || $0.isNumber }
        path = NSTemporaryDirectory() + "cildata-\(safe)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { path + "/" + name }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
    func write(_ bytes: [UInt8], to name: String) throws {
        let full = file(name)
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: full))
    }
    func read(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: file(name)))) }
}

/// Expects `body` to throw a DataError satisfying `matches` whose one-line message names `path`.
func expectDataError<T>(naming path: String, _ matches: (DataError) -> Bool, sourceLocation: SourceLocation = #_sourceLocation,
                        _ body: () throws -> T) {
    do {
        _ = try body()
        Issue.record("expected a DataError naming \(path)", sourceLocation: sourceLocation)
    } catch let error as DataError {
        #expect(matches(error), "unexpected error: \(error)", sourceLocation: sourceLocation)
        #expect(error.description.contains(path), "message does not name \(path): \(error)", sourceLocation: sourceLocation)
        #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a DataError, got \(error)", sourceLocation: sourceLocation)
    }
}
