import Foundation

/// Per-epoch learning rates. `steppedAtEpochStart` reproduces the reference code's
/// PyTorch ≤ 1.0 habit of calling scheduler.step() before each epoch (gotcha G4): every
/// decay takes effect one epoch early and cosine annealing's last epoch runs at its minimum.
/// `lagsOneEpoch` reproduces PODNet's `scheduler.step(epoch)` after epoch e with e's own
/// index (G16): epochs 0 and 1 both run at the first rate and every later epoch at its
/// predecessor's.
public enum LearningRateSchedule: Sendable, Codable, Equatable {
    case constant
    case multiStep(milestones: [Int], gamma: Double)
    case cosine(totalEpochs: Int, minimum: Double)

    /// Learning rate for 0-based `epoch` given the base rate.
    public func learningRate(base: Double, epoch: Int, steppedAtEpochStart: Bool = false, lagsOneEpoch: Bool = false) -> Double {
        let steps = steppedAtEpochStart ? epoch + 1 : (lagsOneEpoch ? max(epoch - 1, 0) : epoch)
        switch self {
        case .constant:
            return base
        case .multiStep(let milestones, let gamma):
            let passed = milestones.filter { steps >= $0 }.count
            return base * pow(gamma, Double(passed))
        case .cosine(let total, let minimum):
            let t = Double(min(steps, total))
            return minimum + (base - minimum) * (1 + cos(Double.pi * t / Double(total))) / 2
        }
    }
}
