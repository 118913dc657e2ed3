extension CILProtocol {
    /// Rebuilds a protocol from its canonical text (`path = value` lines, as a bundle's
    /// manifest stores it), so a run can be replayed from its bundle alone, even after the
    /// protocol file changed or on a machine without it. The dotted paths become nested
    /// mappings and the values are already in the protocol language's spelling; the
    /// result's fingerprint equals the recorded one when the round trip is faithful (callers
    /// check it).
    public static func fromCanonicalText(_ text: String, name: String) throws(ProtocolError) -> CILProtocol {
        final class Node {
            var value: String?
            var children: [(key: String, node: Node)] = []
            func child(_ key: String) -> Node {
                if let existing = children.first(where: { $0.key == key }) { return existing.node }
                let n = Node()
                children.append((key, n))
                return n
            }
        }
        let root = Node()
        for (i, line) in text.split(separator: "\n").enumerated() {
            guard let eq = line.range(of: " = ") else {
                throw ProtocolError(file: "canonical text", line: i + 1, field: "", message: "not a `path = value` line: \(line)")
            }
            var node = root
            for part in line[..<eq.lowerBound].split(separator: ".") { node = node.child(String(part)) }
            node.value = String(line[eq.upperBound...])
        }
        var yaml = "name: \(name)\n"
        func emit(_ node: Node, indent: String) {
            for (key, child) in node.children {
                if child.children.isEmpty {
                    yaml += "\(indent)\(key): \(child.value ?? "{}")\n"
                } else {
                    yaml += "\(indent)\(key):\n"
                    emit(child, indent: indent + "  ")
                }
            }
        }
        emit(root, indent: "")
        return try parse(yaml, file: "\(name) (canonical text from the bundle)")
    }
}
