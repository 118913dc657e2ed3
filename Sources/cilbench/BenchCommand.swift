import ArgumentParser
import CILNetworks
import Foundation

/// `cilbench bench`: training-step throughput of the cases the PyTorch anchor measures,
/// plus per-layer convolution GFLOP/s.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure training-step throughput (images/s, batch 128) and per-layer conv GFLOP/s.")

    @Option(parsing: .unconditional, help: "Threads for oneDNN and OpenBLAS, 1 to the CPU count.") var threads = 2
    @Option(help: "Batch size.") var batch = 128
    @Option(help: "Timed steps per case (median reported).") var iterations = 10
    @Option(help: "Comma-separated cases (default: all): \(TrainingStepCase.allCases.map(\.rawValue).joined(separator: ", ")).")
    var cases: String?
    @Flag(help: "A short run: 3 timed steps per case, no per-layer table.") var quick = false
    @Flag(help: "Print one JSON object mapping each case to images/s.") var json = false
    @Flag(help: "Also print where each case's step time goes, per kernel kind.") var profile = false

    func run() throws {
        let engine: ComputeEngine
        do { engine = try ComputeEngine(threads: try checkedThreads(threads)) } catch let error as ExitCode { throw error } catch { throw failure("\(error)") }
        var selected = TrainingStepCase.allCases
        if let cases {
            selected = try cases.split(separator: ",").map { name in
                guard let c = TrainingStepCase(rawValue: String(name)) else {
                    throw ValidationError("unknown case '\(name)'; known: \(TrainingStepCase.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return c
            }
        }
        let steps = quick ? 3 : iterations
        var results: [(TrainingStepCase, Double, Double)] = []
        if !json {
            let env = engine.environment
            print("# cilbench bench: batch \(batch), threads \(threads), oneDNN \(env["onednn_version"] ?? "?") ISA \(env["onednn_isa"] ?? "?"), OpenBLAS \(env["openblas_core"] ?? "?"), OMP_WAIT_POLICY \(env["omp_wait_policy"] ?? "?"), \(steps) timed steps (median)")
            print("| case | ms/batch | images/s |")
            print("|---|---|---|")
        }
        for c in selected {
            let workload = TrainingStepWorkload(c, engine: engine, batch: batch)
            let (ms, ips) = try workload.measure(iterations: steps, warmup: quick ? 1 : 2)
            results.append((c, ms, ips))
            if !json { print("| \(c.rawValue) | \(String(format: "%.1f", ms)) | \(String(format: "%.0f", ips)) |"); fflush(nil) }
            if profile {
                let profiler = KernelProfiler()
                engine.observer = profiler
                profiler.mark()
                for _ in 0..<steps { try workload.step() }
                engine.observer = nil
                for row in profiler.report.prefix(25) {
                    print("|   \(row.kind) | \(String(format: "%.2f", row.milliseconds / Double(steps))) ms/step | \(row.calls / steps) calls/step |")
                }
            }
        }
        if json {
            let body = results.map { "\"\($0.0.rawValue)\": \(String(format: "%.1f", $0.2))" }.joined(separator: ", ")
            print("{\(body)}")
            return
        }
        if !quick {
            print("\n| conv layer (batch \(batch)) | fwd GFLOP/s | bwd-data GFLOP/s | bwd-weights GFLOP/s |")
            print("|---|---|---|---|")
            for layer in try engine.benchmarkConvolutionLayers(batch: batch) {
                print("| \(layer.name) | \(String(format: "%.0f", layer.forwardGFLOPS)) | \(String(format: "%.0f", layer.backwardDataGFLOPS)) | \(String(format: "%.0f", layer.backwardWeightsGFLOPS)) |")
            }
        }
        print("peak resident memory: \(String(format: "%.0f", peakResidentMegabytes())) MiB")
    }
}

/// VmHWM from /proc/self/status (Linux), in MiB.
func peakResidentMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kb / 1024
}
