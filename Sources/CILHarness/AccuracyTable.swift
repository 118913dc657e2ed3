import Foundation

/// The average-incremental-accuracy table over many runs: rows are methods with and
/// without AANets, columns are protocols, cells the mean ± standard deviation over seeds.
/// Runs of one protocol name with different fingerprints (e.g. with overrides) get
/// separate columns, labelled `name@<first 8 hex digits>`.
public struct AccuracyTable: Sendable {
    public enum Classifier: String, Sendable, CaseIterable { case cnn, nme }

    public struct Column: Sendable, Hashable {
        public var protocolName: String
        public var fingerprint: String
        /// What the header shows.
        public var label: String
    }

    public struct Cell: Sendable {
        /// One value per run, in the order of the runs' seeds.
        public var values: [Double]
        public var seeds: [Int]
        public var mean: Double { values.reduce(0, +) / Double(values.count) }
        /// Sample standard deviation (n − 1); nil for a single run.
        public var standardDeviation: Double? {
            guard values.count > 1 else { return nil }
            let m = mean
            return (values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(values.count - 1)).squareRoot()
        }
    }

    public var classifier: Classifier
    public var rows: [String]
    public var columns: [Column]
    /// cells[row][column label]
    public var cells: [String: [String: Cell]]

    public init(results: [RunResult], classifier: Classifier = .cnn) {
        self.classifier = classifier
        var fingerprintsByName: [String: Set<String>] = [:]
        for r in results { fingerprintsByName[r.protocolName, default: []].insert(r.protocolFingerprint) }
        var columns: [Column] = []
        for name in fingerprintsByName.keys.sorted() {
            let prints = fingerprintsByName[name]!.sorted()
            for fp in prints {
                columns.append(Column(protocolName: name, fingerprint: fp, label: prints.count == 1 ? name : "\(name)@\(fp.prefix(8))"))
            }
        }
        // A method run with different settings on one protocol gets one row per setting.
        var settingsByLabel: [String: Set<String>] = [:]
        for r in results { settingsByLabel["\(r.methodLabel)|\(r.protocolName)|\(r.protocolFingerprint)", default: []].insert(r.methodSettingsDigest) }
        func rowLabel(_ r: RunResult) -> String {
            settingsByLabel["\(r.methodLabel)|\(r.protocolName)|\(r.protocolFingerprint)"]!.count > 1 ? "\(r.methodLabel)@\(r.methodSettingsDigest.prefix(8))" : r.methodLabel
        }
        var cells: [String: [String: Cell]] = [:]
        for r in results.sorted(by: { ($0.methodLabel, $0.protocolName, $0.seed) < ($1.methodLabel, $1.protocolName, $1.seed) }) {
            let label = columns.first { $0.protocolName == r.protocolName && $0.fingerprint == r.protocolFingerprint }!.label
            // Methods without exemplars have no NME column entry.
            guard let matrix = classifier == .cnn ? r.cnn : r.nme else { continue }
            let value = matrix.averageIncrementalAccuracy
            let row = rowLabel(r)
            cells[row, default: [:]][label, default: Cell(values: [], seeds: [])].values.append(value)
            cells[row]![label]!.seeds.append(r.seed)
        }
        self.rows = cells.keys.sorted()
        self.columns = columns
        self.cells = cells
    }

    func cellText(_ cell: Cell?, row: String, column: Column, paper: Bool) -> String {
        var text = "—"
        if let cell {
            text = String(format: "%.2f", cell.mean) + (cell.standardDeviation.map { String(format: " ± %.2f", $0) } ?? "") + " (n=\(cell.values.count))"
        }
        guard paper else { return text }
        guard let reported = PaperResults.averageIncrementalAccuracy(methodLabel: row, protocolName: column.protocolName) else {
            return text + "; paper: unknown"
        }
        let diff = cell.map { String(format: "; Δ %+.2f", $0.mean - reported) } ?? ""
        return text + String(format: "; paper %.2f", reported) + diff
    }

    /// A markdown table; with `paper`, each cell also shows the Table 1 value and the
    /// difference (mean − paper), or "paper: unknown".
    public func markdown(paper: Bool = false) -> String {
        var out = "Average incremental accuracy (%), \(classifier.rawValue.uppercased()), mean ± std over seeds (N+1 phases incl. phase 0, sample-weighted)\n\n"
        out += "| method | " + columns.map(\.label).joined(separator: " | ") + " |\n"
        out += "|---|" + columns.map { _ in "---|" }.joined() + "\n"
        for row in rows {
            out += "| \(row) | " + columns.map { cellText(cells[row]?[$0.label], row: row, column: $0, paper: paper) }.joined(separator: " | ") + " |\n"
        }
        if paper {
            out += "\nPaper values: AANets Table 1 as verified in the protocol spec §1.1; unverified rows are unknown, not estimated. PODNet rows compare against the PODNet ImageNet subset.\n"
        }
        return out
    }

    /// Long-format CSV, one line per (method, column), for tools.
    public func csv(paper: Bool = false) -> String {
        var out = "method,protocol,fingerprint,classifier,runs,seeds,mean,std" + (paper ? ",paper,difference" : "") + "\n"
        for row in rows {
            for column in columns {
                guard let cell = cells[row]?[column.label] else { continue }
                var line = [row, column.protocolName, column.fingerprint, classifier.rawValue, String(cell.values.count),
                            cell.seeds.map(String.init).joined(separator: " "), String(format: "%.4f", cell.mean),
                            cell.standardDeviation.map { String(format: "%.4f", $0) } ?? ""]
                if paper {
                    let reported = PaperResults.averageIncrementalAccuracy(methodLabel: row, protocolName: column.protocolName)
                    line += [reported.map { String(format: "%.2f", $0) } ?? "unknown", reported.map { String(format: "%.4f", cell.mean - $0) } ?? ""]
                }
                out += line.joined(separator: ",") + "\n"
            }
        }
        return out
    }
}
