import Foundation

/// A method hyper-parameter as written in a protocol file. Plain scalars are typed the
/// YAML way (integer, float, boolean, null), quoted ones are always strings.
public enum ProtocolValue: Sendable, Hashable, CustomStringConvertible {
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([ProtocolValue])
    case null

    /// Interprets a scalar's text.
    static func scalar(_ text: String, quoted: Bool) -> ProtocolValue {
        if quoted { return .string(text) }
        switch text {
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case "null", "Null", "NULL", "~", "": return .null
        default: break
        }
        if let i = Int(text) { return .int(i) }
        if let d = Double(text), text.rangeOfCharacter(from: ["n", "N", "i", "I"]) == nil { return .double(d) }
        return .string(text)
    }

    /// Canonical spelling: doubles in Swift's shortest round-trip form (5e-4 and 0.0005 read
    /// the same), strings JSON-quoted so that `"5"` and `5` stay apart.
    public var description: String {
        switch self {
        case .bool(let b): return String(b)
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s): return Self.quote(s)
        case .list(let items): return "[" + items.map(\.description).joined(separator: ", ") + "]"
        case .null: return "null"
        }
    }

    /// The value as a number, for methods reading hyper-parameters.
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}
