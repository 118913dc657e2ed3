import CILHarness
import Foundation

/// Shows a run's progress: a redrawn status line on a terminal, plain lines otherwise (logs,
/// CI). Progress goes to standard error so standard output stays the summary and the bundle
/// path.
final class ProgressReporter {
    let interactive = isatty(STDERR_FILENO) != 0
    let started = Date()
    var phases = 1

    func handle(_ event: RunEvent) {
        switch event {
        case .phaseStarted(let phase, let phases, let images):
            self.phases = phases
            emit("phase \(phase + 1)/\(phases): training on \(images) images", final: true)
        case .epochFinished(let phase, let record, let epochs):
            let elapsed = Date().timeIntervalSince(started)
            var line = "phase \(phase + 1)/\(phases) epoch \(record.epoch + 1)/\(epochs)  loss \(String(format: "%.4f", record.losses["loss"] ?? .nan))  lr \(String(format: "%.2g", record.learningRate))  \(String(format: "%.0f", record.imagesPerSecond)) img/s  elapsed \(Self.clock(elapsed))  phase ETA \(Self.clock(Double(epochs - record.epoch - 1) * record.seconds))"
            if let alphas = record.alphas { line += "  α " + alphas.map { String(format: "%.6f", $0) }.joined(separator: "/") }
            emit(line, final: !interactive || record.epoch + 1 == epochs)
        case .phaseFinished(let record):
            var line = "phase \(record.phase + 1)/\(phases) done: \(record.seenClasses) classes, CNN \(String(format: "%.2f", record.cnnAccuracy * 100))%"
            if let nme = record.nmeAccuracy { line += ", NME \(String(format: "%.2f", nme * 100))%" }
            line += ", phase-0 classes CNN \(String(format: "%.2f", record.cnnPhaseZeroAccuracy * 100))%  (\(String(format: "%.0f", record.wallSeconds)) s)"
            emit(line, final: true)
        }
    }

    private func emit(_ line: String, final: Bool) {
        if interactive {
            FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line + (final ? "\n" : "")).utf8))
        } else if final {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds)
        return String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
    }
}
