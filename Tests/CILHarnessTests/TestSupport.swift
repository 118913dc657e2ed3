import Foundation

/// The package folder, found from this file's path, for the shipped `protocols/`.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let protocolsFolder = packageRoot.appendingPathComponent("protocols").path

/// A fresh empty folder under the system temporary folder.
func temporaryFolder(_ label: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("cilharness-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
