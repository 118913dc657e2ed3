import Foundation

/// The folder of protocol files (`protocols/`), and how a name given on the command line
/// becomes a file: a path if it names an existing file, else `<folder>/<name>.yaml`.
public struct ProtocolLibrary: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// The folder to use: `explicit`, else `$CILBENCH_PROTOCOLS`, else `./protocols`, else
    /// `protocols/` beside the package the executable was built in (`.build/<config>/`).
    public static func locate(explicit: String? = nil, executablePath: String = CommandLine.arguments.first ?? "") -> ProtocolLibrary {
        if let explicit { return ProtocolLibrary(directory: explicit) }
        if let env = ProcessInfo.processInfo.environment["CILBENCH_PROTOCOLS"], !env.isEmpty { return ProtocolLibrary(directory: env) }
        let fm = FileManager.default
        if fm.fileExists(atPath: "protocols") { return ProtocolLibrary(directory: "protocols") }
        var dir = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            dir = dir.deletingLastPathComponent()
            let candidate = dir.appendingPathComponent("protocols").path
            if fm.fileExists(atPath: candidate) { return ProtocolLibrary(directory: candidate) }
        }
        return ProtocolLibrary(directory: "protocols")
    }

    /// Names of the protocols in the folder, sorted.
    public func names() throws(ProtocolError) -> [String] {
        let files: [String]
        do { files = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw ProtocolError(file: directory, line: nil, field: "", message: "cannot list the protocol folder (set CILBENCH_PROTOCOLS or run from the package folder)")
        }
        return files.filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
    }

    /// The file a protocol name or path stands for.
    public func path(for nameOrPath: String) throws(ProtocolError) -> String {
        var isDirectory: ObjCBool = false
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".yaml") {
            guard FileManager.default.fileExists(atPath: nameOrPath, isDirectory: &isDirectory), !isDirectory.boolValue else {
                throw ProtocolError(file: nameOrPath, line: nil, field: "", message: "no such protocol file")
            }
            return nameOrPath
        }
        let path = (directory as NSString).appendingPathComponent(nameOrPath + ".yaml")
        guard FileManager.default.fileExists(atPath: path) else {
            let known = (try? names())?.joined(separator: ", ") ?? "none found"
            throw ProtocolError(file: nameOrPath, line: nil, field: "", message: "unknown protocol (known in \(directory): \(known))")
        }
        return path
    }

    /// Loads a protocol by name or path, with overrides.
    public func load(_ nameOrPath: String, overrides: [String] = []) throws(ProtocolError) -> CILProtocol {
        try CILProtocol.load(file: path(for: nameOrPath), overrides: overrides)
    }
}
