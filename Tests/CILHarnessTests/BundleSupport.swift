import CILHarness
import Foundation

/// A small made-up run: 3 phases (4 + 3 + 3 classes, 40/30/30 test images).
func sampleResult(seed: Int = 1, method: String = "lucir", aanets: Bool = false, protocolName: String = "smoke",
                  fingerprint: String = String(repeating: "ab", count: 32), cnnLast: [Int] = [20, 15, 25]) throws -> RunResult {
    let cnn = try AccuracyMatrix(correct: [[36], [30, 27], cnnLast], testImages: [40, 30, 30])
    let nme = try AccuracyMatrix(correct: [[34], [31, 25], [26, 18, 22]], testImages: [40, 30, 30])
    var phases: [PhaseRecord] = []
    var log: [EpochRecord] = []
    for k in 0..<3 {
        let digest: UInt64 = 0xdead_beef_0000_0001 &+ UInt64(k)
        phases.append(PhaseRecord(phase: k, classesSeen: 4 + 3 * k, wallSeconds: 1.5 + Double(k), parameterDigest: digest,
                                  exemplarDigest: 0x0123_4567_89ab_cdef, predictionDigest: UInt64(k)))
        for epoch in 0..<2 {
            let ce: Double = 1.25 / Double(epoch + 1)
            log.append(EpochRecord(phase: k, epoch: epoch, losses: ["ce": ce, "distillation": 0.5], trainAccuracy: 50 + Double(epoch),
                                   learningRate: 0.1, imagesPerSecond: 300, seconds: 0.25))
        }
    }
    return RunResult(cilbenchVersion: "0.1.0", gitRevision: "abc1234", protocolName: protocolName,
                     protocolCanonicalText: "backbone = resnet32\n", protocolFingerprint: fingerprint, protocolOverrides: ["training.epochs=2"],
                     method: method, aanets: aanets, hyperParameters: ["training.epochs": "2", "method.lambda_base": "5"], seed: seed,
                     classOrder: [0, 2, 3, 4, 5, 1, 6, 7, 8, 9], datasetDigest: "feedface", environment: ["threads": "2", "cpu_model": "test CPU"],
                     startedAt: Date(timeIntervalSince1970: 1_800_000_000), finishedAt: Date(timeIntervalSince1970: 1_800_000_100),
                     phases: phases, cnn: cnn, nme: nme, log: log)
}

/// Runs a program and returns its exit status and standard output.
@discardableResult
func run(_ executable: String, _ arguments: [String], in folder: URL? = nil) throws -> (status: Int32, output: String, error: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    if let folder { p.currentDirectoryURL = folder }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

/// The built `cilbench` executable next to the test bundle, and the package's protocols/
/// folder; nil when either is missing.
let builtCilbench: (executable: URL, protocols: String)? = {
    let folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    let executable = folder.appendingPathComponent("cilbench")
    guard FileManager.default.isExecutableFile(atPath: executable.path) else { return nil }
    var up = folder
    for _ in 0..<5 {
        up = up.deletingLastPathComponent()
        let candidate = up.appendingPathComponent("protocols")
        if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("smoke.yaml").path) { return (executable, candidate.path) }
    }
    return nil
}()
