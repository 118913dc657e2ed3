// `cilbench replay-kernel`: re-runs one captured kernel call on this machine, on the fast
// path and in float64, to tell a library or CPU difference from a bug.
import ArgumentParser
import CILHarness
import CILMethods
import Foundation

struct ReplayKernelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay-kernel",
        abstract: "Re-run one captured kernel call (from `cilbench replay --capture`) and compare it with the capture.",
        discussion: """
            Runs the call on the fast path (oneDNN/OpenBLAS) and on the float64 reference loops and prints, against the \
            captured output, whether the digests match and the largest absolute and relative differences. If the captured \
            and the recomputed results are both float32 roundings of the float64 answer, a difference between them comes from \
            the library, the CPU or the thread count; if one is far from it, suspect a bug.
            Exit status: 0 when the fast path reproduces the captured output bit for bit, 1 when it does not, 2 for a bad file.
            """)

    @Argument(help: "A kernel capture file.") var file: String
    @Option(parsing: .unconditional, help: "Threads for oneDNN and OpenBLAS (default: the capturing replay's count).") var threads: Int?

    func run() throws {
        let code: Int32
        do { code = try execute() } catch let error as ExitCode { throw error } catch { throw failure("\(error)") }
        if code != 0 { throw ExitCode(code) }
    }

    func execute() throws -> Int32 {
        if let threads { _ = try checkedThreads(threads) }
        let capture: KernelCapture
        do { capture = try KernelCapture.read(path: file) } catch { throw failure("\(error)") }
        let call = capture.call
        guard call.isCapturable else { throw failure(KernelCapture.CaptureError.notCapturable(sequence: capture.sequence, kind: call.kind).description) }
        let threads = self.threads ?? Int(capture.environment["threads"] ?? "") ?? 2
        let engine = try ComputeEngine(threads: threads)
        let attributes = call.attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        print("kernel call #\(capture.sequence) \(call.kind) at \(call.context) of \(capture.bundle)")
        print("  inputs \(call.inputs.map { "\($0.shape)" }.joined(separator: ", ")) -> \(call.output.shape)\(attributes.isEmpty ? "" : "; \(attributes)")")

        let capturedDigest = Digest.of(call.output)
        if let recordedInputs = capture.recordedInputDigests {
            let same = recordedInputs == call.inputs.map(Digest.of)
            print("  captured inputs \(same ? "equal" : "differ from") the recorded run's inputs of this call")
        }
        if let recorded = capture.recordedOutputDigest {
            print("  captured output \(recorded == capturedDigest ? "equals" : "differs from") the recorded run's output (\(Digest.hex(recorded)))")
        }

        let fast: Tensor, exact: Tensor
        do {
            fast = try call.execute(on: engine)
            exact = try call.execute(on: engine, inputs: call.inputs.map { $0.converted(to: .float64) })
        } catch { throw failure("cannot re-run the call: \(error)") }
        let fastDigest = Digest.of(fast)
        let same = fastDigest == capturedDigest
        print("fast path here (\(threads) threads): digest \(Digest.hex(fastDigest)), captured \(Digest.hex(capturedDigest)): "
              + (same ? "identical" : TensorDifference(fast, call.output).description))
        let scale = exact.doubles.reduce(0) { max($0, abs($1)) }
        let capturedError = TensorDifference(call.output, exact), fastError = TensorDifference(fast, exact)
        print("float64 reference vs captured output: \(capturedError)")
        print("float64 reference vs fast path here:  \(fastError)")
        for line in EnvironmentComparison.report(recorded: capture.environment, current: RunEnvironment.collect(engine: engine),
                                                 recordedBuild: capture.build, currentBuild: BuildInfo.gitRevision) {
            print(line)
        }
        // Float32 kernels with long reductions round to about 1e-6 of the result's scale;
        // 1e-3 leaves room for that and still flags a wrong answer.
        let tolerance = 1e-3 * max(scale, 1e-30)
        if same {
            print("verdict: this machine reproduces the captured bits")
        } else if capturedError.maxAbsolute <= tolerance && fastError.maxAbsolute <= tolerance {
            print("verdict: both results are float32 roundings of the float64 answer (max abs error \(capturedError.maxAbsolute) and \(fastError.maxAbsolute), output scale \(scale)): a library, CPU or thread-count difference, not a bug")
        } else {
            print("verdict: a result is far from the float64 answer (max abs error captured \(capturedError.maxAbsolute), here \(fastError.maxAbsolute), output scale \(scale)): suspect a bug")
        }
        return same ? 0 : 1
    }
}
