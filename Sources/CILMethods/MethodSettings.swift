/// A method's hyper-parameters as the protocol file gives them (strings, as written), read
/// through typed accessors that name the key in every error. Unknown keys are an error, so
/// a typo never silently falls back to a default.
public struct MethodSettings: Sendable, Equatable {
    public private(set) var values: [String: String]

    public init(_ values: [String: String] = [:]) { self.values = values }

    public func double(_ key: String, default value: Double) throws -> Double {
        guard let text = values[key] else { return value }
        guard let parsed = Double(text) else { throw MethodError.badSetting(key: key, value: text, expected: "a number") }
        return parsed
    }

    public func int(_ key: String, default value: Int) throws -> Int {
        guard let text = values[key] else { return value }
        guard let parsed = Int(text) else { throw MethodError.badSetting(key: key, value: text, expected: "an integer") }
        return parsed
    }

    public func bool(_ key: String, default value: Bool) throws -> Bool {
        guard let text = values[key] else { return value }
        switch text.lowercased() {
        case "true", "yes", "1": return true
        case "false", "no", "0": return false
        default: throw MethodError.badSetting(key: key, value: text, expected: "true or false")
        }
    }

    public func string(_ key: String, default value: String, allowed: [String]) throws -> String {
        guard let text = values[key] else { return value }
        guard allowed.contains(text) else { throw MethodError.badSetting(key: key, value: text, expected: "one of \(allowed.joined(separator: ", "))") }
        return text
    }

    /// The `fidelity` every method accepts: `reference` copies the
    /// reference code's quirks, `corrected` does what the papers describe.
    public func fidelity() throws -> Fidelity {
        Fidelity(rawValue: try string(Fidelity.settingKey, default: Fidelity.reference.rawValue, allowed: Fidelity.allCases.map(\.rawValue))) ?? .reference
    }

    /// Throws if any key is not among `known` (`fidelity` is known to every method).
    public func rejectUnknown(_ known: [String], method: String) throws {
        let known = known + [Fidelity.settingKey]
        let unknown = values.keys.filter { !known.contains($0) }.sorted()
        if let first = unknown.first { throw MethodError.unknownSetting(method: method, key: first, known: known.sorted()) }
    }
}

/// Whether a run copies the reference code's quirks (G1 channel-reversal "flip" in class
/// means, G3 α-gradient accumulation, G8 PODNet's NCA, G13 balanced set drawn with
/// replacement) or does what the papers describe. The default is `reference`.
public enum Fidelity: String, Sendable, Codable, CaseIterable {
    case reference, corrected
    public static let settingKey = "fidelity"
}

public enum MethodError: Error, CustomStringConvertible, Equatable {
    case unknownMethod(String, known: [String])
    case unknownSetting(method: String, key: String, known: [String])
    case badSetting(key: String, value: String, expected: String)
    case unsupported(String)

    public var description: String {
        switch self {
        case .unknownMethod(let name, let known): "unknown method '\(name)'; known methods: \(known.joined(separator: ", "))"
        case .unknownSetting(let method, let key, let known): "method \(method) has no setting '\(key)'; its settings: \(known.joined(separator: ", "))"
        case .badSetting(let key, let value, let expected): "setting \(key) = '\(value)' is not \(expected)"
        case .unsupported(let what): what
        }
    }
}
