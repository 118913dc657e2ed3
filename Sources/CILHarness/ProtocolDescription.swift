/// A protocol as `cilbench protocols show` prints it: where it came from, the phases with
/// the classes each learns, then the canonical settings and the fingerprint.
public enum ProtocolDescription {
    public static func text(_ p: CILProtocol) -> String {
        var out = "# \(p.name)\n\(p.summary)\n\nfile: \(p.sourcePath)\nfingerprint: \(p.fingerprint)\nshared fingerprint (all but the method blocks; what bundles record): \(p.sharedFingerprint)\n"
        if !p.overrides.isEmpty { out += "overrides: " + p.overrides.map { "--set \($0)" }.joined(separator: " ") + "\n" }
        out += "class order: \(p.classOrderSource)\n"
        out += "memory: " + {
            switch p.memory {
            case .perClass(let m): return "\(m) exemplars per class"
            case .fixedTotal(let k): return "\(k) exemplars in total, ceil(\(k) / seen classes) per class"
            }
        }() + "\n\nphases (N = \(p.incrementalPhaseCount), \(p.phases.phaseCount) evaluations):\n"
        for k in 0..<p.phases.phaseCount {
            let labels = p.phases.newLabels(phase: k, order: p.classOrder)
            out += "  phase \(k): \(labels.count) new, \(p.phases.seenPositions(phase: k).count) seen: \(labels.map(String.init).joined(separator: " "))\n"
        }
        out += "\nresolved settings:\n"
        for line in p.canonicalLines where line.path != "classes.order" { out += "  \(line.path) = \(line.value)\n" }
        return out
    }
}
