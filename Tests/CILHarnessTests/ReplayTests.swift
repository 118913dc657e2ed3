import CILHarness
import CILKernels
import Foundation
import Testing

private let tool = builtCilbench

/// Runs cilbench to the end; returns its exit status and standard output plus error.
private func cilbench(_ arguments: [String], in folder: URL) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = tool!.executable
    process.arguments = arguments
    process.currentDirectoryURL = folder
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// One traced and one untraced smoke run at one thread, shared by the tests below.
private final class Recordings: Sendable {
    let root: URL
    let traced: String
    let untraced: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("cilbench-replay-\(getpid())")
        try? FileManager.default.removeItem(at: root)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let common = ["run", "smoke", "--protocols", tool!.protocols, "--method", "lucir", "--aanets", "--threads", "1", "--no-phase-zero-cache"]
        let a = try cilbench(common + ["--out", "traced", "--trace"], in: root)
        let b = try cilbench(common + ["--out", "untraced"], in: root)
        guard a.status == 0, b.status == 0 else { throw ReplayTestError.runFailed(a.output + b.output) }
        traced = root.appendingPathComponent("traced/smoke/lucir+aanets/seed-1993.tar.zst").path
        untraced = root.appendingPathComponent("untraced/smoke/lucir+aanets/seed-1993.tar.zst").path
    }

    static let shared = Result { try Recordings() }
}

private enum ReplayTestError: Error { case runFailed(String) }

@Suite(.serialized, .enabled(if: tool != nil, "cilbench executable or protocols/ not found next to the test bundle; build it first"))
struct ReplayTests {
    private var recordings: Recordings { get throws { try Recordings.shared.get() } }

    private func replay(_ bundle: String, _ extra: [String] = []) throws -> (status: Int32, output: String) {
        try cilbench(["replay", bundle, "--protocols", tool!.protocols] + extra, in: try recordings.root)
    }

    /// A traced bundle records every call and says so in its manifest; an untraced one still
    /// has the digest chain.
    @Test func bundlesCarryTraceAndChain() throws {
        let traced = try ResultBundle.read(path: try recordings.traced)
        let untraced = try ResultBundle.read(path: try recordings.untraced)
        #expect((traced.trace?.calls ?? 0) > 1000)
        #expect(untraced.trace == nil)
        #expect(!untraced.chain.isEmpty)
        // Tracing observes, it does not change the run.
        #expect(traced.chain == untraced.chain)
        #expect(traced.phases.map(\.parameterDigest) == untraced.phases.map(\.parameterDigest))
        let trace = try #require(try ResultBundle.member("trace.zst", ofBundleAt: try recordings.traced))
        let records = try KernelTrace.decode(try KernelTrace.decompress(trace))
        #expect(records.count == traced.trace?.calls)
        #expect(records.map(\.sequence) == Array(1...records.count))
        #expect(KernelTrace.encode(records) == (try KernelTrace.decompress(trace)))
        #expect(records.contains { $0.context.stage == .evaluation && $0.context.phase == 2 })
        #expect(records.contains { $0.kind == "conv2d.backward_weights" && $0.layer?.hasSuffix(".weight") == true })
    }

    /// An unchanged run replays with exit 0, kernel by kernel and by the chain alone.
    @Test func unchangedRunReplaysCleanly() throws {
        let full = try replay(try recordings.traced)
        #expect(full.status == 0, "\(full.output)")
        #expect(full.output.contains("replay matches the recording"))
        // From the manifest alone: no protocol files at hand.
        let empty = try recordings.root.appendingPathComponent("no-protocols")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let alone = try cilbench(["replay", try recordings.traced, "--protocols", empty.path], in: try recordings.root)
        #expect(alone.status == 0, "\(alone.output)")
        let chain = try replay(try recordings.untraced)
        #expect(chain.status == 0, "\(chain.output)")
        #expect(chain.output.contains("chain links identical"))
    }

    /// One flipped output digest in the trace is reported at exactly that call, as an output
    /// difference with identical inputs; a flipped input digest as an input difference.
    @Test func flippedDigestIsReportedAtThatCall() throws {
        let r = try recordings
        let result = try ResultBundle.read(path: r.traced)
        let records = try KernelTrace.decode(try KernelTrace.decompress(try #require(try ResultBundle.member("trace.zst", ofBundleAt: r.traced))))
        for (sequence, flipInput) in [(1234, false), (4321, true)] {
            var edited = records
            let i = sequence - 1
            if flipInput { edited[i].inputDigests[0] ^= 1 } else { edited[i].outputDigest ^= 1 << 17 }
            let path = r.root.appendingPathComponent("flipped-\(sequence).tar.zst").path
            try ResultBundle.write(result, to: path, trace: try KernelTrace.compress(KernelTrace.encode(edited)))
            let out = try replay(path)
            #expect(out.status == 1, "\(out.output)")
            #expect(out.output.contains("first divergent kernel call: #\(sequence) \(records[i].kind) at \(records[i].context)"), "\(out.output)")
            if flipInput {
                #expect(out.output.contains("input 0 \(records[i].shapes[0]) differs"))
            } else {
                #expect(out.output.contains("output \(records[i].shapes.last!) differs"))
                #expect(out.output.contains("inputs identical"))
            }
            #expect(out.output.contains("environment: identical"))
        }
    }

    /// Replaying a one-thread run with two threads stops at the first kernel whose bits
    /// depend on the thread count (every earlier call matched), names the environment
    /// difference, and the captured call re-runs: identical at two threads, and at one
    /// thread a float32 rounding difference, not a bug.
    @Test func threadCountIsReportedAsEnvironmentDifference() throws {
        let r = try recordings
        let out = try replay(r.traced, ["--threads", "2"])
        #expect(out.status == 1, "\(out.output)")
        #expect(out.output.contains("threads: 1 (recorded) vs 2 (here)"), "\(out.output)")
        #expect(out.output.contains("inputs identical"))
        #expect(out.output.contains("  layer: "))
        let line = try #require(out.output.split(separator: "\n").first { $0.hasPrefix("first divergent kernel call: #") })
        let sequence = try #require(Int(line.dropFirst("first divergent kernel call: #".count).prefix { $0.isNumber }))
        #expect(["conv2d.backward_weights", "matmul", "conv2d.backward_data", "conv2d.forward"].contains { line.contains(" \($0) at ") }, "\(line)")

        let file = r.root.appendingPathComponent("call.cilk").path
        let captured = try replay(r.traced, ["--threads", "2", "--capture", String(sequence), "--capture-file", file])
        #expect(captured.status == 0, "\(captured.output)")
        let same = try cilbench(["replay-kernel", file], in: r.root)
        #expect(same.status == 0, "\(same.output)")
        #expect(same.output.contains("captured inputs equal the recorded run's inputs"))
        #expect(same.output.contains("captured output differs from the recorded run's output"))
        let other = try cilbench(["replay-kernel", file, "--threads", "1"], in: r.root)
        #expect(other.status == 1, "\(other.output)")
        #expect(other.output.contains("not a bug"), "\(other.output)")
    }

    /// Without a trace the digest chain narrows a thread difference to its epoch.
    @Test func chainNarrowsWithoutTrace() throws {
        let out = try replay(try recordings.untraced, ["--threads", "2"])
        #expect(out.status == 1, "\(out.output)")
        #expect(out.output.contains("first divergent chain link: phase 0, epoch 0, training"), "\(out.output)")
        #expect(out.output.contains("threads: 1 (recorded) vs 2 (here)"))
    }

    /// Bundles that cannot be replayed, calls that cannot be captured and bad capture files
    /// end with status 2 and one error line.
    @Test func unreplayableInputsExitTwo() throws {
        let r = try recordings
        let garbage = r.root.appendingPathComponent("garbage.tar.zst")
        try Data("not a bundle".utf8).write(to: garbage)
        let bad = try replay(garbage.path)
        #expect(bad.status == 2 && bad.output.hasPrefix("error: "), "\(bad.output)")
        let result = try ResultBundle.read(path: r.traced)
        let records = try KernelTrace.decode(try KernelTrace.decompress(try #require(try ResultBundle.member("trace.zst", ofBundleAt: r.traced))))
        let uncapturable = try #require(records.first { !KernelCall.capturableKinds.contains($0.kind) })
        let notCapturable = try replay(r.traced, ["--capture", String(uncapturable.sequence), "--capture-file", r.root.appendingPathComponent("x.cilk").path])
        #expect(notCapturable.status == 2 && notCapturable.output.contains("not capturable"), "\(notCapturable.output)")
        let beyond = try replay(r.traced, ["--capture", String(result.trace!.calls + 10)])
        #expect(beyond.status == 2 && beyond.output.contains("no call #"), "\(beyond.output)")
        let kernel = try cilbench(["replay-kernel", garbage.path], in: r.root)
        #expect(kernel.status == 2 && kernel.output.contains("not a kernel capture"), "\(kernel.output)")
    }
}

/// Every shipped protocol rebuilds from its canonical text with the same fingerprint, so
/// `replay` needs only the bundle.
@Suite struct CanonicalProtocolTests {
    @Test func shippedProtocolsRoundTrip() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: protocolsFolder).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files.count > 5)
        for name in files {
            let p = try CILProtocol.load(file: protocolsFolder + "/" + name)
            let rebuilt = try CILProtocol.fromCanonicalText(p.canonicalText, name: p.name)
            #expect(rebuilt.fingerprint == p.fingerprint, "\(name)")
            #expect(rebuilt.name == p.name)
        }
        let overridden = try CILProtocol.load(file: protocolsFolder + "/smoke.yaml", overrides: ["training.epochs=3", "methods.lucir.lambda_base=7"])
        #expect(try CILProtocol.fromCanonicalText(overridden.canonicalText, name: "smoke").fingerprint == overridden.fingerprint)
    }
}
