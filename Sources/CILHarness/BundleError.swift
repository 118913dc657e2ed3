/// A bundle that cannot be written or read, as one line.
public enum BundleError: Error, Equatable, CustomStringConvertible {
    /// The file is damaged: not zstd, not tar, a checksum or a file inside that does not parse.
    case corrupt(String)
    /// A bundle written under another manifest schema version.
    case unsupportedSchema(found: Int, supported: Int)
    /// Reading or writing the file failed.
    case io(String)
    /// The result to write does not hold together.
    case invalidResult(String)

    public var description: String {
        switch self {
        case .corrupt(let why): return "corrupt result bundle: \(why)"
        case .unsupportedSchema(let found, let supported):
            return "result bundle has manifest schema version \(found); this cilbench reads versions up to \(supported)"
        case .io(let why): return why
        case .invalidResult(let why): return "cannot write the result bundle: \(why)"
        }
    }
}

/// A bundle error with the bundle's path in front, as the command line prints it.
public struct BundleFileError: Error, CustomStringConvertible {
    public var path: String
    public var error: BundleError
    public var description: String { "\(path): \(error)" }
}
