/// Where in a run a kernel call happened, as the harness last set it on the engine. Plain
/// integers and a one-byte stage, so setting it per step and copying it into every record
/// costs nothing measurable; the names are built only when a report is printed.
public enum KernelStage: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case setup, beginPhase, training, alphaPass, endPhase, exemplarSelection, afterSelection, evaluation

    public var description: String {
        switch self {
        case .setup: return "setup"
        case .beginPhase: return "method's phase start"
        case .training: return "training"
        case .alphaPass: return "AANets α pass"
        case .endPhase: return "method's phase end"
        case .exemplarSelection: return "exemplar selection (herding)"
        case .afterSelection: return "method's step after exemplar selection"
        case .evaluation: return "evaluation"
        }
    }
}

/// Phase, epoch and step (-1 when not applicable) plus the stage of the run.
public struct KernelContext: Sendable, Hashable, CustomStringConvertible {
    public var phase: Int32
    public var epoch: Int32
    public var step: Int32
    public var stage: KernelStage

    public init(phase: Int = -1, epoch: Int = -1, step: Int = -1, stage: KernelStage = .setup) {
        self.phase = Int32(truncatingIfNeeded: phase)
        self.epoch = Int32(truncatingIfNeeded: epoch)
        self.step = Int32(truncatingIfNeeded: step)
        self.stage = stage
    }

    public var description: String {
        var parts: [String] = []
        if phase >= 0 { parts.append("phase \(phase)") }
        if epoch >= 0 { parts.append("epoch \(epoch)") }
        if step >= 0 { parts.append("step \(step)") }
        parts.append(stage.description)
        return parts.joined(separator: ", ")
    }
}
