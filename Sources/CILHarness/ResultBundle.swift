import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One run's results as one file, `<out>/<protocol>/<method>[+aanets]/seed-<n>.tar.zst`:
/// a ustar archive compressed with zstd that `tar --zstd -xf` unpacks into a folder of
/// manifest.json, accuracy.csv, accuracy-matrix.csv, forgetting.csv, summary.md,
/// curves.svg, digests.csv and log.jsonl. `manifest.json` (with log.jsonl) is the source
/// of truth; the other files are views of it.
public enum ResultBundle {
    /// The manifest schema this code writes and reads.
    public static let schemaVersion = 1

    /// Where a run's bundle goes.
    public static func path(outputFolder: String, protocolName: String, methodLabel: String, seed: Int) -> String {
        [outputFolder, protocolName, methodLabel, "seed-\(seed).tar.zst"].joined(separator: "/")
    }

    public static func path(outputFolder: String, result r: RunResult) -> String {
        path(outputFolder: outputFolder, protocolName: r.protocolName, methodLabel: r.methodLabel, seed: r.seed)
    }

    /// The archive's members, in archive order.
    public static let memberNames = ["manifest.json", "summary.md", "accuracy.csv", "accuracy-matrix.csv", "forgetting.csv",
                                     "curves.svg", "digests.csv", "log.jsonl", "chain.csv"]

    /// The bundle's bytes (compressed archive). Same result, same bytes.
    /// `trace` is the compressed kernel trace (`trace.zst`), when the run recorded one;
    /// `r.trace` must then describe it.
    public static func encode(_ r: RunResult, trace: [UInt8]? = nil) throws(BundleError) -> [UInt8] {
        if let problem = r.inconsistency { throw .invalidResult(problem) }
        if (trace == nil) != (r.trace == nil) { throw .invalidResult("the manifest's trace entry and the trace data disagree") }
        let manifest: [UInt8]
        var log: [UInt8] = []
        do {
            manifest = Array(try jsonEncoder(pretty: true).encode(Manifest(schemaVersion: schemaVersion, run: r))) + [0x0a]
            let lineEncoder = jsonEncoder(pretty: false)
            for record in r.log { log += Array(try lineEncoder.encode(record)) + [0x0a] }
        } catch {
            throw .invalidResult("cannot encode the manifest: \(error)")
        }
        let files: [(String, [UInt8])] = [
            ("manifest.json", manifest),
            ("summary.md", Array(BundleTables.summaryMarkdown(r).utf8)),
            ("accuracy.csv", Array(BundleTables.accuracyCSV(r).utf8)),
            ("accuracy-matrix.csv", Array(BundleTables.matrixCSV(r).utf8)),
            ("forgetting.csv", Array(BundleTables.forgettingCSV(r).utf8)),
            ("curves.svg", Array(CurvesPlot.svg(r).utf8)),
            ("digests.csv", Array(BundleTables.digestsCSV(r).utf8)),
            ("log.jsonl", log),
            ("chain.csv", Array(chainCSV(r.chain).utf8)),
        ] + (trace.map { [(KernelTrace.memberName, $0)] } ?? [])
        let folder = "\(r.protocolName)_\(r.methodLabel)_seed-\(r.seed)"
        let tar = try TarArchive.write(folder: folder, files: files.map { TarArchive.Entry(name: $0.0, contents: $0.1) },
                                       mtime: Int(r.finishedAt.timeIntervalSince1970.rounded(.down)))
        return try Zstd.compress(tar)
    }

    /// Writes the bundle atomically: to a temporary name in the destination folder,
    /// fsynced, then renamed, so a killed run never leaves a bundle that looks complete.
    /// Returns the path written.
    @discardableResult
    public static func write(_ r: RunResult, outputFolder: String) throws(BundleError) -> String {
        let destination = path(outputFolder: outputFolder, result: r)
        try write(r, to: destination)
        return destination
    }

    public static func write(_ r: RunResult, to destination: String, trace: [UInt8]? = nil) throws(BundleError) {
        let bytes = try encode(r, trace: trace)
        let folder = (destination as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder.isEmpty ? "." : folder, withIntermediateDirectories: true)
        } catch {
            throw .io("cannot create the output folder \(folder): \(error.localizedDescription)")
        }
        let temporary = (folder as NSString).appendingPathComponent(".\((destination as NSString).lastPathComponent).\(AtomicFile.uniqueSuffix())")
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw .io("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        var written = 0
        let ok = bytes.withUnsafeBytes { buf -> Bool in
            while written < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + written, buf.count - written)
                if n < 0 { if errno == EINTR { continue }; return false }
                written += n
            }
            return fsync(fd) == 0
        }
        let reason = String(cString: strerror(errno))
        close(fd)
        guard ok else {
            unlink(temporary)
            throw .io("cannot write \(temporary): \(reason)")
        }
        guard rename(temporary, destination) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(temporary)
            throw .io("cannot rename \(temporary) to \(destination): \(why)")
        }
        // The rename itself must reach the disk too.
        let dirFD = open(folder.isEmpty ? "." : folder, O_RDONLY)
        if dirFD >= 0 { fsync(dirFD); close(dirFD) }
    }

    /// Reads a bundle file; any problem is a `BundleFileError` naming the file.
    public static func read(path: String) throws(BundleFileError) -> RunResult {
        guard let data = FileManager.default.contents(atPath: path) else {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            throw BundleFileError(path: path, error: .io(exists ? (isDirectory.boolValue ? "is a folder, not a bundle" : "cannot read the file") : "no such file"))
        }
        do {
            return try decode(Array(data))
        } catch {
            throw BundleFileError(path: path, error: error)
        }
    }

    /// Parses a bundle's bytes, checking the schema version before anything else.
    public static func decode(_ bytes: [UInt8]) throws(BundleError) -> RunResult {
        let tar = try Zstd.decompress(bytes)
        let entries = try TarArchive.read(tar)
        guard let manifest = entries.first(where: { $0.name == "manifest.json" }) else { throw .corrupt("no manifest.json inside") }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let version: Int
        do {
            version = try decoder.decode(SchemaProbe.self, from: Data(manifest.contents)).schemaVersion
        } catch {
            throw .corrupt("manifest.json has no schema version (\(error.localizedDescription))")
        }
        guard version == schemaVersion else { throw .unsupportedSchema(found: version, supported: schemaVersion) }
        var result: RunResult
        do {
            result = try decoder.decode(RunResult.self, from: Data(manifest.contents))
        } catch {
            throw .corrupt("manifest.json does not parse: \(describe(error))")
        }
        if let log = entries.first(where: { $0.name == "log.jsonl" }) {
            for (i, line) in log.contents.split(separator: 0x0a).enumerated() {
                do { result.log.append(try decoder.decode(EpochRecord.self, from: Data(line))) } catch {
                    throw .corrupt("log.jsonl line \(i + 1) does not parse: \(describe(error))")
                }
            }
        } else {
            throw .corrupt("no log.jsonl inside")
        }
        if let chain = entries.first(where: { $0.name == "chain.csv" }) {
            result.chain = try parseChainCSV(String(decoding: chain.contents, as: UTF8.self))
        }
        if let trace = result.trace, !entries.contains(where: { $0.name == trace.member }) {
            throw .corrupt("the manifest lists a kernel trace but there is no \(trace.member) inside")
        }
        if let problem = result.inconsistency { throw .corrupt(problem) }
        return result
    }

    /// The raw bytes of one archive member, nil when the bundle has no such member.
    public static func member(_ name: String, ofBundleAt path: String) throws(BundleFileError) -> [UInt8]? {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BundleFileError(path: path, error: .io("cannot read the file"))
        }
        do {
            return try TarArchive.read(try Zstd.decompress(Array(data))).first(where: { $0.name == name })?.contents
        } catch {
            throw BundleFileError(path: path, error: error)
        }
    }

    /// chain.csv: one row per chain link.
    static func chainCSV(_ links: [ChainLink]) -> String {
        "phase,epoch,stage,steps,chain_digest\n" + links.map { "\($0.phase),\($0.epoch),\($0.stage.rawValue),\($0.steps),\(hex16($0.digest))\n" }.joined()
    }

    static func parseChainCSV(_ text: String) throws(BundleError) -> [ChainLink] {
        var links: [ChainLink] = []
        for (i, line) in text.split(separator: "\n").enumerated().dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            guard f.count == 5, let phase = Int(f[0]), let epoch = Int(f[1]), let stage = ChainLink.Stage(rawValue: String(f[2])),
                  let steps = Int(f[3]), f[4].count == 16, let digest = UInt64(f[4], radix: 16) else {
                throw .corrupt("chain.csv line \(i + 1) does not parse: \(line)")
            }
            links.append(ChainLink(phase: phase, epoch: epoch, stage: stage, steps: steps, digest: digest))
        }
        return links
    }

    /// Every bundle (`*.tar.zst`) under the given files and folders, sorted by path.
    public static func find(in paths: [String]) -> [String] {
        var out: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                let walker = FileManager.default.enumerator(atPath: path)
                while let item = walker?.nextObject() as? String {
                    let name = (item as NSString).lastPathComponent
                    if item.hasSuffix(".tar.zst") && !name.hasPrefix(".") { out.append((path as NSString).appendingPathComponent(item)) }
                }
            } else {
                out.append(path)
            }
        }
        return out.sorted()
    }

    static func jsonEncoder(pretty: Bool) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return e
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "missing \((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context), DecodingError.dataCorrupted(let context):
            let at = context.codingPath.map(\.stringValue).joined(separator: ".")
            return (at.isEmpty ? "" : "\(at): ") + context.debugDescription
        default:
            return "\(error)"
        }
    }

    private struct SchemaProbe: Decodable { var schemaVersion: Int }

    /// manifest.json: the schema version, the run, and its headline metrics (for readers
    /// of the JSON alone; recomputed, not read back).
    private struct Manifest: Encodable {
        var schemaVersion: Int
        var run: RunResult

        private enum CodingKeys: String, CodingKey { case schemaVersion, metrics }
        private struct Metrics: Encodable { var cnn: ClassifierMetrics; var nme: ClassifierMetrics? }

        func encode(to encoder: any Encoder) throws {
            try run.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(schemaVersion, forKey: .schemaVersion)
            try c.encode(Metrics(cnn: run.cnnMetrics, nme: run.nmeMetrics), forKey: .metrics)
        }
    }
}

extension ResultBundle {
    /// The summary.md text of a result, as `cilbench show` prints it.
    public static func summary(_ r: RunResult) -> String { BundleTables.summaryMarkdown(r) }
}
