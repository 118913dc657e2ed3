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
        /// Why the cell's runs are not the paper's setting, whatever a run says (`--set`
        /// overrides, an edited protocol file, `fidelity: corrected`, another classifier);
        /// sorted, each once. Empty when every run is in the paper's setting.
        public var departures: [String] = []
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

    /// `shippedFingerprints`: the shared fingerprint of each shipped protocol file by name,
    /// so a run of an edited copy is not compared with the paper as if it were the paper's
    /// setting (empty: not checked).
    public init(results: [RunResult], classifier: Classifier = .cnn, shippedFingerprints: [String: String] = [:]) {
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
            let departures = Self.departuresFromPaper(r, classifier: classifier, shippedFingerprints: shippedFingerprints)
            cells[row]![label]!.departures = Array(Set(cells[row]![label]!.departures + departures)).sorted()
        }
        self.rows = cells.keys.sorted()
        self.columns = columns
        self.cells = cells
    }

    /// What makes one run's setting differ from the one behind the paper's Table 1 value.
    static func departuresFromPaper(_ r: RunResult, classifier: Classifier, shippedFingerprints: [String: String]) -> [String] {
        var out: [String] = []
        if !r.protocolOverrides.isEmpty { out.append("--set " + r.protocolOverrides.joined(separator: " ")) }
        if let shipped = shippedFingerprints[r.protocolName], shipped != r.protocolFingerprint {
            out.append("protocol differs from the shipped \(r.protocolName)")
        }
        if r.hyperParameters["method.fidelity"] == "corrected" { out.append("fidelity: corrected") }
        // The method block names the classifier its paper reports (`eval_classifier`).
        if let intended = r.hyperParameters["method.eval_classifier"]?.trimmingCharacters(in: CharacterSet(charactersIn: "\"")),
           Classifier(rawValue: intended) != nil, intended != classifier.rawValue {
            out.append("the paper reports \(intended.uppercased()), this is \(classifier.rawValue.uppercased())")
        }
        return out
    }

    /// The paper's value for a row ("lucir", or "lucir@<settings>" when settings split rows).
    static func paperValue(row: String, column: Column) -> Double? {
        let methodLabel = row.split(separator: "@").first.map(String.init) ?? row
        return PaperResults.averageIncrementalAccuracy(methodLabel: methodLabel, protocolName: column.protocolName)
    }

    func cellText(_ cell: Cell?, row: String, column: Column, paper: Bool) -> String {
        var text = "—"
        if let cell {
            text = String(format: "%.2f", cell.mean) + (cell.standardDeviation.map { String(format: " ± %.2f", $0) } ?? "") + " (n=\(cell.values.count))"
        }
        guard paper else { return text }
        guard let reported = Self.paperValue(row: row, column: column) else {
            return text + (PaperResults.isPaperProtocol(column.protocolName) ? "; paper: unknown" : "; paper: no such setting")
        }
        text += String(format: "; paper %.2f", reported)
        guard let cell else { return text }
        // A difference against another setting would read as a reproduction gap.
        if !cell.departures.isEmpty { return text + " (not comparable: " + cell.departures.joined(separator: "; ") + ")" }
        return text + String(format: "; Δ %+.2f", cell.mean - reported)
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
            out += "\nPaper values: AANets Table 1 (arXiv 2010.05063) as copied in ACIL (NeurIPS 2022) Table 1; rows not verified against a readable copy of the paper are unknown, not estimated. PODNet rows compare against the PODNet ImageNet subset. Δ is given only where every run is in the paper's setting (no --set, the shipped protocol, fidelity: reference, the classifier the paper reports).\n"
        }
        return out
    }

    static func csvField(_ text: String) -> String {
        text.contains(",") || text.contains("\"") ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }

    /// Long-format CSV, one line per (method, column), for tools.
    public func csv(paper: Bool = false) -> String {
        var out = "method,protocol,fingerprint,classifier,runs,seeds,mean,std" + (paper ? ",paper,difference,not_comparable_because" : "") + "\n"
        for row in rows {
            for column in columns {
                guard let cell = cells[row]?[column.label] else { continue }
                var line = [row, column.protocolName, column.fingerprint, classifier.rawValue, String(cell.values.count),
                            cell.seeds.map(String.init).joined(separator: " "), String(format: "%.4f", cell.mean),
                            cell.standardDeviation.map { String(format: "%.4f", $0) } ?? ""]
                if paper {
                    let reported = Self.paperValue(row: row, column: column)
                    let comparable = cell.departures.isEmpty
                    line += [reported.map { String(format: "%.2f", $0) } ?? (PaperResults.isPaperProtocol(column.protocolName) ? "unknown" : "none"),
                             comparable ? (reported.map { String(format: "%.4f", cell.mean - $0) } ?? "") : "",
                             Self.csvField(cell.departures.joined(separator: "; "))]
                }
                out += line.joined(separator: ",") + "\n"
            }
        }
        return out
    }
}
