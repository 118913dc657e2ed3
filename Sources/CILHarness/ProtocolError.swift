/// A protocol that cannot be used, as one line naming the file, the line (when the
/// problem sits on one) and the field: `protocols/x.yaml:12: classes.per_phase: ...`.
public struct ProtocolError: Error, Equatable, CustomStringConvertible {
    /// The protocol file, or `--set` for a problem in a command-line override.
    public var file: String
    /// 1-based line in the file; nil when the problem is not on one line (a missing field).
    public var line: Int?
    /// Dotted path of the field, empty for problems of the whole file.
    public var field: String
    public var message: String

    public init(file: String, line: Int?, field: String, message: String) {
        self.file = file
        self.line = line
        self.field = field
        self.message = message
    }

    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return field.isEmpty ? "\(place): \(message)" : "\(place): \(field): \(message)"
    }
}
