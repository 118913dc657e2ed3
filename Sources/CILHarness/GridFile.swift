import Foundation

/// A grid file (`protocols/grids/<name>.yaml`): protocols × methods × AANets on/off × seeds,
/// with `--set` overrides for every cell and for the cells a rule matches, and cells left
/// out. Fields are documented in protocols/README.md ("Grid files"). Parsing checks only
/// the file's own shape; `GridPlan` loads every cell's protocol and checks the rest.
public struct GridFile: Sendable, Equatable {
    /// Which cells a `cells:` or `exclude:` rule applies to; a nil field matches any value.
    public struct Match: Sendable, Equatable {
        public var protocolName: String?
        public var method: String?
        public var aanets: Bool?
        public var seed: UInt64?
        /// The rule's line in the grid file, for errors about it.
        public var line: Int?

        public func matches(protocol p: String, method m: String, aanets a: Bool, seed s: UInt64) -> Bool {
            (protocolName == nil || protocolName == p) && (method == nil || method == m) && (aanets == nil || aanets == a) && (seed == nil || seed == s)
        }
    }

    /// Overrides for the cells a rule matches, applied after the grid's own, in file order.
    public struct CellRule: Sendable, Equatable {
        public var match: Match
        public var overrides: [String]
    }

    public var name: String
    public var summary: String
    /// Where the file was read from; relative protocol paths are resolved against its folder.
    public var sourcePath: String
    /// Protocol names (in the protocol folder) or paths to protocol files.
    public var protocols: [String]
    public var methods: [String]
    public var aanets: [Bool]
    public var seeds: [UInt64]
    /// `--set` overrides of every cell.
    public var overrides: [String]
    public var cellRules: [CellRule]
    public var exclusions: [Match]

    static let knownKeys = ["name", "description", "protocols", "methods", "aanets", "seeds", "set", "cells", "exclude"]

    public static func load(file path: String) throws(GridError) -> GridFile {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw GridError(file: path, line: nil, message: FileManager.default.fileExists(atPath: path) ? "cannot read the grid file" : "no such grid file")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws(GridError) -> GridFile {
        let root: ProtocolNode
        do { root = try ProtocolNode.parse(text, file: file) } catch {
            throw GridError(file: file, line: error.line, message: error.message)
        }
        guard case .mapping(let entries) = root.kind else { throw GridError(file: file, line: root.line, message: "a grid file is a mapping of fields (name, protocols, methods, aanets, seeds, ...)") }
        let reader = Reader(file: file)
        for entry in entries where !knownKeys.contains(entry.key) {
            throw GridError(file: file, line: entry.keyLine, message: "unknown field '\(entry.key)' (known: \(knownKeys.joined(separator: ", ")))")
        }
        func entry(_ key: String) -> ProtocolNode.Entry? {
            entries.first { $0.key == key }.flatMap { reader.isAbsent($0.value) ? nil : $0 }
        }
        let stem = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        var grid = GridFile(name: stem, summary: "", sourcePath: file, protocols: [], methods: [], aanets: [false], seeds: [],
                            overrides: [], cellRules: [], exclusions: [])
        if let e = entry("name") { grid.name = try reader.text(e.value, field: "name") }
        if let e = entry("description") { grid.summary = try reader.text(e.value, field: "description") }
        guard let protocols = entry("protocols") else { throw GridError(file: file, line: nil, message: "protocols: required (a list of protocol names)") }
        grid.protocols = try reader.distinctTexts(protocols.value, field: "protocols")
        guard let methods = entry("methods") else { throw GridError(file: file, line: nil, message: "methods: required (a list of method names)") }
        grid.methods = try reader.distinctTexts(methods.value, field: "methods")
        if let e = entry("aanets") { grid.aanets = try reader.switches(e.value) }
        guard let seeds = entry("seeds") else { throw GridError(file: file, line: nil, message: "seeds: required (a list of seeds, e.g. [1993, 1994, 1995])") }
        grid.seeds = try reader.seeds(seeds.value)
        if let e = entry("set") { grid.overrides = try reader.overrides(e.value, field: "set") }
        if let e = entry("cells") {
            guard case .sequence(let items) = e.value.kind else { throw GridError(file: file, line: e.keyLine, message: "cells: expected a list of {match: {...}, set: [...]} rules") }
            for item in items {
                guard case .mapping(let fields) = item.kind else { throw GridError(file: file, line: item.line, message: "cells: each rule is a mapping with match and set") }
                if let unknown = fields.first(where: { !["match", "set"].contains($0.key) }) {
                    throw GridError(file: file, line: unknown.keyLine, message: "cells: unknown field '\(unknown.key)' (known: match, set)")
                }
                guard let match = item["match"] else { throw GridError(file: file, line: item.line, message: "cells: a rule needs match (which cells)") }
                guard let set = item["set"] else { throw GridError(file: file, line: item.line, message: "cells: a rule needs set (the overrides)") }
                grid.cellRules.append(CellRule(match: try reader.match(match, field: "cells.match"), overrides: try reader.overrides(set, field: "cells.set")))
            }
        }
        if let e = entry("exclude") {
            guard case .sequence(let items) = e.value.kind else { throw GridError(file: file, line: e.keyLine, message: "exclude: expected a list of matches, e.g. [{method: lwf, aanets: true}]") }
            grid.exclusions = try items.map { item throws(GridError) in try reader.match(item, field: "exclude") }
        }
        try grid.checkRules()
        return grid
    }

    /// Every rule must name values the grid has, so a typo does not silently match nothing.
    func checkRules() throws(GridError) {
        for match in cellRules.map(\.match) + exclusions {
            if let p = match.protocolName, !protocols.contains(p) { throw GridError(file: sourcePath, line: match.line, message: "rule names protocol '\(p)', which is not in protocols: [\(protocols.joined(separator: ", "))]") }
            if let m = match.method, !methods.contains(m) { throw GridError(file: sourcePath, line: match.line, message: "rule names method '\(m)', which is not in methods: [\(methods.joined(separator: ", "))]") }
            if let a = match.aanets, !aanets.contains(a) { throw GridError(file: sourcePath, line: match.line, message: "rule names aanets: \(a), which is not in aanets") }
            if let s = match.seed, !seeds.contains(s) { throw GridError(file: sourcePath, line: match.line, message: "rule names seed \(s), which is not in seeds") }
        }
    }

    /// Reads values of a grid file's tree, with the file and line in every error.
    struct Reader {
        let file: String

        func isAbsent(_ node: ProtocolNode) -> Bool {
            if case .scalar(let s, quoted: false) = node.kind { return s.isEmpty || s == "null" || s == "~" }
            return false
        }

        func text(_ node: ProtocolNode, field: String) throws(GridError) -> String {
            guard case .scalar(let s, _) = node.kind, !s.isEmpty else { throw GridError(file: file, line: node.line, message: "\(field): expected a single value") }
            return s
        }

        func list(_ node: ProtocolNode, field: String) throws(GridError) -> [ProtocolNode] {
            switch node.kind {
            case .sequence(let items):
                guard !items.isEmpty else { throw GridError(file: file, line: node.line, message: "\(field): the list is empty") }
                return items
            case .scalar: return [node]
            case .mapping: throw GridError(file: file, line: node.line, message: "\(field): expected a list")
            }
        }

        func distinctTexts(_ node: ProtocolNode, field: String) throws(GridError) -> [String] {
            var out: [String] = []
            for item in try list(node, field: field) {
                let value = try text(item, field: field)
                guard !out.contains(value) else { throw GridError(file: file, line: item.line, message: "\(field): '\(value)' is listed twice") }
                out.append(value)
            }
            return out
        }

        func bool(_ node: ProtocolNode, field: String) throws(GridError) -> Bool {
            switch try text(node, field: field) {
            case "true", "on", "yes": return true
            case "false", "off", "no": return false
            case let other: throw GridError(file: file, line: node.line, message: "\(field): '\(other)' is not true or false")
            }
        }

        /// `aanets: both`, `aanets: true`, or a list of switches.
        func switches(_ node: ProtocolNode) throws(GridError) -> [Bool] {
            if case .scalar("both", _) = node.kind { return [false, true] }
            var out: [Bool] = []
            for item in try list(node, field: "aanets") {
                let value = try bool(item, field: "aanets")
                guard !out.contains(value) else { throw GridError(file: file, line: item.line, message: "aanets: \(value) is listed twice") }
                out.append(value)
            }
            return out
        }

        func seed(_ node: ProtocolNode, field: String) throws(GridError) -> UInt64 {
            let value = try text(node, field: field)
            // Bundles store the seed as a signed integer; keep to what every reader takes.
            guard let seed = UInt64(value), seed <= UInt64(Int32.max) else {
                throw GridError(file: file, line: node.line, message: "\(field): '\(value)' is not a seed (a whole number from 0 to \(Int32.max))")
            }
            return seed
        }

        /// A list of seeds, or `from-to` for a range.
        func seeds(_ node: ProtocolNode) throws(GridError) -> [UInt64] {
            if case .scalar(let s, _) = node.kind, let dash = s.dropFirst().firstIndex(of: "-") {
                let low = try seed(ProtocolNode(kind: .scalar(String(s[..<dash]), quoted: false), line: node.line), field: "seeds")
                let high = try seed(ProtocolNode(kind: .scalar(String(s[s.index(after: dash)...]), quoted: false), line: node.line), field: "seeds")
                guard low <= high, high - low < 1000 else { throw GridError(file: file, line: node.line, message: "seeds: '\(s)' is not a range of at most 1000 seeds (low-high)") }
                return Array(low...high)
            }
            var out: [UInt64] = []
            for item in try list(node, field: "seeds") {
                let value = try seed(item, field: "seeds")
                guard !out.contains(value) else { throw GridError(file: file, line: item.line, message: "seeds: \(value) is listed twice") }
                out.append(value)
            }
            return out
        }

        func overrides(_ node: ProtocolNode, field: String) throws(GridError) -> [String] {
            try list(node, field: field).map { item throws(GridError) in
                let value = try text(item, field: field)
                guard value.contains("=") else { throw GridError(file: file, line: item.line, message: "\(field): '\(value)' is not path=value (as --set takes)") }
                return value
            }
        }

        func match(_ node: ProtocolNode, field: String) throws(GridError) -> Match {
            guard case .mapping(let fields) = node.kind, !fields.isEmpty else {
                throw GridError(file: file, line: node.line, message: "\(field): expected a mapping of protocol, method, aanets, seed")
            }
            var match = Match(line: node.line)
            for entry in fields {
                switch entry.key {
                case "protocol": match.protocolName = try text(entry.value, field: "\(field).protocol")
                case "method": match.method = try text(entry.value, field: "\(field).method")
                case "aanets": match.aanets = try bool(entry.value, field: "\(field).aanets")
                case "seed": match.seed = try seed(entry.value, field: "\(field).seed")
                default: throw GridError(file: file, line: entry.keyLine, message: "\(field): unknown field '\(entry.key)' (known: protocol, method, aanets, seed)")
                }
            }
            return match
        }
    }
}

/// A grid that cannot be used, as one line: `grids/x.yaml:7: seeds: '19x3' is not a seed`.
public struct GridError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var message: String

    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { "\(line.map { "\(file):\($0)" } ?? file): \(message)" }
}
