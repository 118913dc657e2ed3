import Yams

/// A protocol file as a tree, each node remembering its line, so that decoding errors and
/// overrides can point at the place a value came from. Built from Yams's representation
/// tree; aliases and tags are not part of the protocol language.
struct ProtocolNode: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// A scalar's text and whether it was quoted (quoted scalars are always strings).
        case scalar(String, quoted: Bool)
        case mapping([Entry])
        case sequence([ProtocolNode])

        static func == (a: Kind, b: Kind) -> Bool {
            switch (a, b) {
            case let (.scalar(x, qx), .scalar(y, qy)): return x == y && qx == qy
            case let (.sequence(x), .sequence(y)): return x == y
            case let (.mapping(x), .mapping(y)):
                return x == y
            default: return false
            }
        }
    }

    /// A mapping entry; the key's line is where a field's errors point.
    struct Entry: Sendable, Equatable {
        var key: String
        var keyLine: Int?
        var value: ProtocolNode
    }

    var kind: Kind
    /// 1-based line, nil for values that came from a `--set` override.
    var line: Int?

    /// Parses YAML text; syntax errors become `ProtocolError`s with Yams's line.
    static func parse(_ text: String, file: String) throws(ProtocolError) -> ProtocolNode {
        // YAML forbids tabs in indentation; Yams's message for them never says "tab".
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.prefix(while: { $0 == " " || $0 == "\t" }).contains("\t") {
                throw ProtocolError(file: file, line: i + 1, field: "", message: "indented with a tab: YAML indentation must use spaces")
            }
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw yamlError(error, file: file)
        } catch {
            throw ProtocolError(file: file, line: nil, field: "", message: "not YAML: \(error)")
        }
        guard let root else { throw ProtocolError(file: file, line: nil, field: "", message: "the file is empty") }
        return try convert(root, file: file, path: "")
    }

    private static func yamlError(_ error: YamlError, file: String) -> ProtocolError {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            let what = [context.map { $0.text }, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
            return ProtocolError(file: file, line: mark.line, field: "", message: "YAML syntax error: \(what)")
        case let .reader(problem, _, _, _):
            return ProtocolError(file: file, line: nil, field: "", message: "unreadable YAML: \(problem)")
        case let .duplicatedKeysInMapping(duplicates, context):
            return ProtocolError(file: file, line: context.mark.line, field: "",
                                 message: "duplicate key\(duplicates.count == 1 ? "" : "s") \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) in one section")
        default:
            // One line: Yams's descriptions can span several.
            let first = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            return ProtocolError(file: file, line: nil, field: "", message: "unreadable YAML: \(first)")
        }
    }

    private static func convert(_ node: Node, file: String, path: String) throws(ProtocolError) -> ProtocolNode {
        let line = node.mark?.line
        switch node {
        case .scalar(let s):
            return ProtocolNode(kind: .scalar(s.string, quoted: s.style == .singleQuoted || s.style == .doubleQuoted), line: line)
        case .sequence(let seq):
            var items: [ProtocolNode] = []
            for (i, item) in seq.enumerated() { items.append(try convert(item, file: file, path: "\(path)[\(i)]")) }
            return ProtocolNode(kind: .sequence(items), line: line)
        case .mapping(let map):
            var pairs: [Entry] = []
            for (k, v) in map {
                guard case .scalar(let ks) = k else {
                    throw ProtocolError(file: file, line: k.mark?.line, field: path, message: "mapping keys must be plain names")
                }
                let key = ks.string
                let childPath = path.isEmpty ? key : "\(path).\(key)"
                if pairs.contains(where: { $0.key == key }) {
                    throw ProtocolError(file: file, line: k.mark?.line, field: childPath, message: "given twice")
                }
                pairs.append(Entry(key: key, keyLine: k.mark?.line, value: try convert(v, file: file, path: childPath)))
            }
            return ProtocolNode(kind: .mapping(pairs), line: line)
        case .alias:
            throw ProtocolError(file: file, line: line, field: path, message: "YAML aliases are not supported in protocol files")
        }
    }

    /// The same tree with every line forgotten, for values that come from `--set`.
    var withoutLines: ProtocolNode {
        switch kind {
        case .scalar: return ProtocolNode(kind: kind, line: nil)
        case .sequence(let items): return ProtocolNode(kind: .sequence(items.map(\.withoutLines)), line: nil)
        case .mapping(let entries):
            return ProtocolNode(kind: .mapping(entries.map { Entry(key: $0.key, keyLine: nil, value: $0.value.withoutLines) }), line: nil)
        }
    }

    /// Sets the value at a dotted path (creating mappings on the way), as `--set` does.
    mutating func set(path: [Substring], to value: ProtocolNode, fullPath: String) throws(ProtocolError) {
        guard let head = path.first else { self = value; return }
        guard case .mapping(var pairs) = kind else {
            throw ProtocolError(file: "--set", line: nil, field: fullPath, message: "\(head) is inside a value that is not a section")
        }
        if let i = pairs.firstIndex(where: { $0.key == head }) {
            try pairs[i].value.set(path: Array(path.dropFirst()), to: value, fullPath: fullPath)
            if path.count == 1 { pairs[i].keyLine = nil }
        } else {
            var child = ProtocolNode(kind: .mapping([]), line: nil)
            try child.set(path: Array(path.dropFirst()), to: value, fullPath: fullPath)
            pairs.append(Entry(key: String(head), keyLine: nil, value: child))
        }
        kind = .mapping(pairs)
    }

    /// Child of a mapping, nil when absent or when this is not a mapping.
    subscript(key: String) -> ProtocolNode? {
        guard case .mapping(let pairs) = kind else { return nil }
        return pairs.first { $0.key == key }?.value
    }

    /// Overlays `other` on this tree: mappings merge key by key, anything else replaces.
    func merged(with other: ProtocolNode) -> ProtocolNode {
        guard case .mapping(var mine) = kind, case .mapping(let theirs) = other.kind else { return other }
        for entry in theirs {
            if let i = mine.firstIndex(where: { $0.key == entry.key }) {
                mine[i].value = mine[i].value.merged(with: entry.value)
                mine[i].keyLine = entry.keyLine
            } else {
                mine.append(entry)
            }
        }
        return ProtocolNode(kind: .mapping(mine), line: line)
    }
}
