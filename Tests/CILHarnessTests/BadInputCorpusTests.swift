import CILData
import CILHarness
import Foundation
import Testing

private let tool = builtCilbench

/// The bad-input corpus: one case per line, `exit | error fragment | arguments`, run against
/// the built cilbench. Every case must end with the expected exit code and one `error:`
/// line holding the fragment (exit 0: no error line), within a minute, without a crash,
/// a partial file, or a change to the good bundle. `$F` is the fixture folder, `$P` the
/// protocols folder, `$GOOD` a good (verified) bundle, `$CPU1` one more than the CPU count.
/// Fixtures are written by `Fixtures` below.
private let corpus = """
# flags
2 | between 1 and | run smoke --protocols $P --method lucir --out $F/out --threads 0
2 | between 1 and | run smoke --protocols $P --method lucir --out $F/out --threads -1
2 | between 1 and | run smoke --protocols $P --method lucir --out $F/out --threads 5000000000
2 | between 1 and | run smoke --protocols $P --method lucir --out $F/out --threads 100000
2 | between 1 and | run smoke --protocols $P --method lucir --out $F/out --threads $CPU1
64 | '--seed | run smoke --protocols $P --method lucir --out $F/out --seed -1
64 | '--threads | run smoke --protocols $P --method lucir --out $F/out --threads two
2 | unknown method 'nope' | run smoke --protocols $P --method nope --out $F/out
2 | unknown protocol | run nope --protocols $P --method lucir --out $F/out
2 | --set training.epochs: expected path=value | run smoke --protocols $P --method lucir --out $F/out --set training.epochs
2 | --set training.epochs=0: training.epochs: must be at least 1 | run smoke --protocols $P --method lucir --out $F/out --set training.epochs=0
2 | --set training.epochs=99999 | run smoke --protocols $P --method lucir --out $F/out --set training.epochs=99999
2 | --set memory.per_class=x | run smoke --protocols $P --method lucir --out $F/out --set memory.per_class=x
2 | after --set classes.base=3 | run smoke --protocols $P --method lucir --out $F/out --set classes.base=3
2 | --set nonsense.key=1 | run smoke --protocols $P --method lucir --out $F/out --set nonsense.key=1
2 | not a safe folder name | run smoke --protocols $P --method lucir --out $F/out --set name=../../x
2 | not a safe folder name | run smoke --protocols $P --method lucir --out $F/out --set name=a/b
2 | cannot create the output folder | run smoke --protocols $P --method lucir --out /proc/cilbench-cannot-write
2 | cannot create the output folder | run smoke --protocols $P --method lucir --out $F/protocol/list.yaml
2 | cannot resume | run smoke --protocols $P --method lucir --out $F/out --trace --resume
2 | between 1 and | bench --threads 0 --quick
2 | between 1 and | replay $GOOD --threads 0
2 | --capture takes | replay $GOOD --capture 0
2 | --tolerance must be | diff $GOOD $GOOD --tolerance -1
2 | --classifier must be | table $GOOD --classifier knn
64 | Unknown option '--bogus' | run smoke --protocols $P --method lucir --bogus
# protocol files
2 | the file is empty | protocols show $F/protocol/empty.yaml
2 | garbage.yaml | protocols show $F/protocol/garbage.yaml
2 | must be a section of fields | protocols show $F/protocol/list.yaml
2 | duplicate key 'epochs' | protocols show $F/protocol/dup.yaml
2 | do not divide | protocols show $F/protocol/uneven.yaml
2 | not a permutation | protocols show $F/protocol/badorder.yaml
2 | must be at most 1000000 | protocols show $F/protocol/hugecount.yaml
2 | must be at most 1024 | protocols show $F/protocol/hugeimage.yaml
2 | classes.total: must be at most 1000000 | protocols show $F/protocol/hugeclasses.yaml
2 | exceed 16 GiB | protocols show $F/protocol/hugesynthetic.yaml
2 | unknown field | protocols show $F/protocol/unknown.yaml
2 | tab | protocols show $F/protocol/tabs.yaml
2 | no such protocol file | protocols show $F/protocol/missing.yaml
2 | not a safe folder name | protocols show $F/protocol/unsafename.yaml
0 | - | protocols show $F/protocol/crlf.yaml
0 | - | protocols show $F/protocol/bom.yaml
2 | tab | run $F/protocol/tabs.yaml --method lucir --out $F/out
2 | duplicate key | run $F/protocol/dup.yaml --method lucir --out $F/out
# data (Fashion-MNIST)
2 | $F/fm-empty | run fmnist-b5-5-quick --protocols $P --method lucir --out $F/out --data-root $F/fm-empty
2 | $F/protocol/list.yaml | run fmnist-b5-5-quick --protocols $P --method lucir --out $F/out --data-root $F/protocol/list.yaml
2 | train-images-idx3-ubyte.gz | run fmnist-b5-5-quick --protocols $P --method lucir --out $F/out --data-root $F/fm-truncgz
2 | train-images-idx3-ubyte.gz | run fmnist-b5-5-quick --protocols $P --method lucir --out $F/out --data-root $F/fm-corruptgz
2 | train-images-idx3-ubyte | run fmnist-b5-5-quick --protocols $P --method lucir --out $F/out --data-root $F/fm-badmagic
2 | train-labels-idx1-ubyte | run fmnist-b5-5-quick --protocols $P --method lucir --out $F/out --data-root $F/fm-badlabel
2 | the protocol uses 300 | run fmnist-b5-5-quick --protocols $P --method lucir --out $F/out --data-root $F/fm-few
2 | (the official count) | run fmnist-b5-5 --protocols $P --method lucir --out $F/out --data-root $F/fm-few
# data (CIFAR-100)
2 | the protocol uses 500 (the official count) | run cifar100-b50-5 --protocols $P --method lucir --out $F/out --data-root $F/c-short
2 | train.bin | run cifar100-b50-5 --protocols $P --method lucir --out $F/out --data-root $F/c-midrecord
2 | train.bin | run cifar100-b50-5 --protocols $P --method lucir --out $F/out --data-root $F/c-empty
2 | train.bin | run cifar100-b50-5 --protocols $P --method lucir --out $F/out --data-root $F/c-badlabel
2 | needs --data-root | run cifar100-b50-5 --protocols $P --method lucir --out $F/out
# bundles
2 | empty.tar.zst | show $F/bundle/empty.tar.zst
2 | truncated.tar.zst | show $F/bundle/truncated.tar.zst
2 | no manifest.json inside | show $F/bundle/nomanifest.tar.zst
2 | manifest.json has no schema version | show $F/bundle/badjson.tar.zst
2 | schema version 9 | show $F/bundle/future.tar.zst
2 | member accuracy.csv does not match its SHA-256 | show $F/bundle/edited.tar.zst
2 | member manifest.json does not match its SHA-256 | show $F/bundle/editedmanifest.tar.zst
2 | member extra.txt is not listed | show $F/bundle/added.tar.zst
2 | member chain.csv listed in the manifest is missing | show $F/bundle/removed.tar.zst
2 | is a folder | show $F/bundle/folder.tar.zst
2 | no such file | show $F/bundle/none.tar.zst
2 | member accuracy.csv does not match | table $F/bundle/edited.tar.zst
2 | member accuracy.csv does not match | diff $F/bundle/edited.tar.zst $GOOD
2 | member accuracy.csv does not match | diff $GOOD $F/bundle/edited.tar.zst
2 | member accuracy.csv does not match | replay $F/bundle/edited.tar.zst
2 | member accuracy.csv does not match | policy $F/bundle/edited.tar.zst --protocol smoke
2 | schema version 9 | replay $F/bundle/future.tar.zst
2 | no manifest.json inside | diff $F/bundle/nomanifest.tar.zst $GOOD
0 | - | show $GOOD
"""

private struct Case: CustomStringConvertible {
    var exit: Int32
    var fragment: String
    var arguments: [String]
    var description: String { arguments.joined(separator: " ") }
}

/// The files the corpus refers to, written once per test process.
private final class Fixtures: Sendable {
    let root: URL
    let good: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("cilbench-corpus-\(getpid())")
        try? FileManager.default.removeItem(at: root)
        let fm = FileManager.default
        for sub in ["protocol", "bundle", "out", "fm-empty"] { try fm.createDirectory(at: root.appendingPathComponent(sub), withIntermediateDirectories: true) }
        try Self.protocols(in: root.appendingPathComponent("protocol"))
        try Self.fashionMNIST(in: root)
        try Self.cifar(in: root)
        good = try Self.bundles(in: root.appendingPathComponent("bundle"))
    }

    static func write(_ text: String, _ url: URL) throws { try Data(text.utf8).write(to: url) }

    static func protocols(in dir: URL) throws {
        let smoke = try String(contentsOfFile: protocolsFolder + "/smoke.yaml", encoding: .utf8)
        func variant(_ name: String, _ from: String, _ to: String) throws {
            #expect(smoke.contains(from), "smoke.yaml changed: \(from)")
            try write(smoke.replacingOccurrences(of: from, with: to), dir.appendingPathComponent("\(name).yaml"))
        }
        try write("", dir.appendingPathComponent("empty.yaml"))
        try Data((0..<300).map { UInt8(truncatingIfNeeded: $0 &* 73 &+ 0x81) }).write(to: dir.appendingPathComponent("garbage.yaml"))
        try write("- a\n- b\n", dir.appendingPathComponent("list.yaml"))
        try variant("dup", "  epochs: 2\n", "  epochs: 2\n  epochs: 3\n")
        try variant("uneven", "  per_phase: 3", "  per_phase: 4")
        try variant("badorder", "order: numpy-seed-1993", "order: [0, 1, 2, 3, 4, 5, 6, 7, 8, 8]")
        try variant("hugecount", "train_images_per_class: 20", "train_images_per_class: 9223372036854775807")
        try variant("hugeimage", "image_size: 16", "image_size: 4000000000")
        try variant("hugeclasses", "total: 10", "total: 9223372036854775807")
        try write(smoke.replacingOccurrences(of: "train_images_per_class: 20", with: "train_images_per_class: 1000000")
            .replacingOccurrences(of: "image_size: 16", with: "image_size: 1024"), dir.appendingPathComponent("hugesynthetic.yaml"))
        try variant("unknown", "  epochs: 2\n", "  epochs: 2\n  epoch_count: 3\n")
        try variant("tabs", "  epochs: 2\n", "\tepochs: 2\n")
        try variant("unsafename", "name: smoke", "name: ../smoke")
        try write(smoke.replacingOccurrences(of: "\n", with: "\r\n"), dir.appendingPathComponent("crlf.yaml"))
        try Data([0xEF, 0xBB, 0xBF] + Array(smoke.utf8)).write(to: dir.appendingPathComponent("bom.yaml"))
    }

    static func fashionMNIST(in root: URL) throws {
        let grey = try SyntheticImages.dataset(classCount: 10, perClass: 2, height: 28, width: 28, channels: 1)
        func folder(_ name: String, gzip: Bool) throws -> URL {
            let url = root.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            try DatasetWriters.writeIDX(grey, split: .train, root: url.path, gzip: gzip)
            try DatasetWriters.writeIDX(grey, split: .test, root: url.path, gzip: gzip)
            return url
        }
        _ = try folder("fm-few", gzip: true)
        let truncated = try folder("fm-truncgz", gzip: true).appendingPathComponent("train-images-idx3-ubyte.gz")
        let bytes = try Data(contentsOf: truncated)
        try bytes.prefix(bytes.count / 2).write(to: truncated)
        let corrupt = try folder("fm-corruptgz", gzip: true).appendingPathComponent("train-images-idx3-ubyte.gz")
        var damaged = try Data(contentsOf: corrupt)
        for i in stride(from: 20, to: damaged.count - 8, by: 7) { damaged[i] ^= 0x5A }
        try damaged.write(to: corrupt)
        let magic = try folder("fm-badmagic", gzip: false).appendingPathComponent("train-images-idx3-ubyte")
        var header = try Data(contentsOf: magic)
        header[2] = 0x0C
        try header.write(to: magic)
        let labels = try folder("fm-badlabel", gzip: false).appendingPathComponent("train-labels-idx1-ubyte")
        var labelBytes = try Data(contentsOf: labels)
        labelBytes[labelBytes.count - 1] = 200
        try labelBytes.write(to: labels)
    }

    static func cifar(in root: URL) throws {
        let data = try SyntheticImages.dataset(classCount: 100, perClass: 10)
        let test = try SyntheticImages.dataset(classCount: 100, perClass: 1, seed: 1)
        func folder(_ name: String) throws -> URL {
            let url = root.appendingPathComponent(name)
            try DatasetWriters.writeCIFARBinary(data, variant: .cifar100, split: .train, root: url.path)
            try DatasetWriters.writeCIFARBinary(test, variant: .cifar100, split: .test, root: url.path)
            return url.appendingPathComponent("cifar-100-binary/train.bin")
        }
        _ = try folder("c-short")
        let mid = try folder("c-midrecord")
        try (try Data(contentsOf: mid)).dropLast(1000).write(to: mid)
        try Data().write(to: try folder("c-empty"))
        let label = try folder("c-badlabel")
        var records = try Data(contentsOf: label)
        records[3074 * 5 + 1] = 200  // record 5's fine label (records: coarse, fine, 3072 pixels)
        try records.write(to: label)
    }

    /// A good bundle and its damaged copies; returns the good one's path.
    static func bundles(in dir: URL) throws -> String {
        let good = dir.appendingPathComponent("good.tar.zst").path
        try ResultBundle.write(try sampleResult(), to: good)
        try Data().write(to: dir.appendingPathComponent("empty.tar.zst"))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        try bytes.prefix(bytes.count / 2).write(to: dir.appendingPathComponent("truncated.tar.zst"))
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("folder.tar.zst"), withIntermediateDirectories: true)
        let member = "smoke_lucir_seed-1"
        /// Unpacks the good bundle, lets `change` edit the folder, packs it as `name`.
        func repack(_ name: String, _ change: (URL) throws -> Void) throws {
            let work = dir.appendingPathComponent("work-\(name)")
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            #expect(try run("/usr/bin/tar", ["--zstd", "-xf", good, "-C", work.path]).status == 0)
            try change(work.appendingPathComponent(member))
            #expect(try run("/usr/bin/tar", ["--zstd", "-cf", dir.appendingPathComponent(name).path, "-C", work.path, member]).status == 0)
            try FileManager.default.removeItem(at: work)
        }
        func edit(_ file: URL, _ from: String, _ to: String) throws {
            let text = try String(contentsOf: file, encoding: .utf8)
            #expect(text.contains(from), "\(file.lastPathComponent) has no \(from)")
            try write(text.replacingOccurrences(of: from, with: to), file)
        }
        try repack("nomanifest.tar.zst") { try FileManager.default.removeItem(at: $0.appendingPathComponent("manifest.json")) }
        try repack("badjson.tar.zst") { try write("{", $0.appendingPathComponent("manifest.json")) }
        try repack("future.tar.zst") { try edit($0.appendingPathComponent("manifest.json"), "\"schemaVersion\" : 2,", "\"schemaVersion\" : 9,") }
        try repack("edited.tar.zst") { try edit($0.appendingPathComponent("accuracy.csv"), "1,7,70,81.4286,", "1,7,70,91.4286,") }
        try repack("editedmanifest.tar.zst") { try edit($0.appendingPathComponent("manifest.json"), "\"seed\" : 1,", "\"seed\" : 2,") }
        try repack("added.tar.zst") { try write("hello\n", $0.appendingPathComponent("extra.txt")) }
        try repack("removed.tar.zst") { try FileManager.default.removeItem(at: $0.appendingPathComponent("chain.csv")) }
        return good
    }

    func cases() -> [Case] {
        corpus.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }.map { line in
            let parts = line.split(separator: "|", maxSplits: 2).map { $0.trimmingCharacters(in: .whitespaces) }
            func expand(_ s: String) -> String {
                s.replacingOccurrences(of: "$GOOD", with: good).replacingOccurrences(of: "$F", with: root.path)
                    .replacingOccurrences(of: "$P", with: tool?.protocols ?? protocolsFolder)
                    .replacingOccurrences(of: "$CPU1", with: String(ProcessInfo.processInfo.activeProcessorCount + 1))
            }
            return Case(exit: Int32(parts[0]) ?? -1, fragment: expand(parts[1]), arguments: parts[2].split(separator: " ").map { expand(String($0)) })
        }
    }
}

/// Runs cilbench with a deadline; a case that outlives it is killed (by its process id) and
/// reported as a hang.
func runCilbench(_ arguments: [String], timeout: TimeInterval = 60, environment: [String: String]? = nil)
    throws -> (status: Int32, signalled: Bool, stdout: String, stderr: String, hung: Bool) {
    let process = Process()
    process.executableURL = tool!.executable
    process.arguments = arguments
    if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Drain the pipes while waiting, so a chatty process never blocks on a full pipe.
    let outData = LockedData(), errData = LockedData()
    let group = DispatchGroup()
    for (pipe, sink) in [(out, outData), (err, errData)] {
        group.enter()
        DispatchQueue.global().async { sink.set(pipe.fileHandleForReading.readDataToEndOfFile()); group.leave() }
    }
    let deadline = Date().addingTimeInterval(timeout)
    var hung = false
    while process.isRunning {
        if Date() > deadline { hung = true; kill(process.processIdentifier, SIGKILL); break }
        usleep(10_000)
    }
    process.waitUntilExit()
    group.wait()
    return (process.terminationStatus, process.terminationReason == .uncaughtSignal, String(decoding: outData.get(), as: UTF8.self),
            String(decoding: errData.get(), as: UTF8.self), hung)
}

final class LockedData: @unchecked Sendable {
    private var data = Data()
    private let lock = NSLock()
    func set(_ d: Data) { lock.lock(); data = d; lock.unlock() }
    func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
}

/// Every file under a folder whose name marks an unfinished write.
func partialFiles(under root: URL) -> [String] {
    let walker = FileManager.default.enumerator(atPath: root.path)
    var out: [String] = []
    while let item = walker?.nextObject() as? String {
        if item.contains(".partial-") { out.append(item) }
    }
    return out
}

@Suite(.enabled(if: tool != nil, "cilbench executable not found next to the test bundle; build it first (swift build -c release)"))
struct BadInputCorpusTests {
    @Test func everyCaseIsOneCleanError() throws {
        let fixtures = try Fixtures()
        defer { try? FileManager.default.removeItem(at: fixtures.root) }
        let cases = fixtures.cases()
        let goodBefore = try Data(contentsOf: URL(fileURLWithPath: fixtures.good))
        var clean = 0
        for c in cases {
            let r = try runCilbench(c.arguments)
            let errorLines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") || $0.hasPrefix("Error: ") }
            var problems: [String] = []
            if r.hung { problems.append("hung") }
            if r.signalled { problems.append("killed by a signal (crash)") }
            if r.status != c.exit { problems.append("exit \(r.status), expected \(c.exit)") }
            if r.stderr.contains("Fatal error") || r.stderr.contains("Backtrace") || r.stderr.contains("Stack dump") { problems.append("a crash report") }
            if c.exit == 0 {
                if !errorLines.isEmpty { problems.append("an error line") }
            } else if errorLines.count != 1 || !errorLines[0].contains(c.fragment) {
                problems.append("error lines \(errorLines), expected one holding '\(c.fragment)'")
            }
            let partial = partialFiles(under: fixtures.root)
            if !partial.isEmpty { problems.append("partial files \(partial)") }
            #expect(problems.isEmpty, "\(c): \(problems.joined(separator: "; "))\n\(r.stderr.prefix(600))")
            if problems.isEmpty { clean += 1 }
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: fixtures.good)) == goodBefore, "the good bundle changed")
        // No bundle appeared under the output folder (every run case fails before training).
        #expect(ResultBundle.find(in: [fixtures.root.appendingPathComponent("out").path]).isEmpty)
        print("bad-input corpus: \(clean) of \(cases.count) cases clean")
        #expect(cases.count >= 70)
    }
}
