import CILNetworks

/// Epochs, batches, optimiser and learning-rate schedule of a protocol (fields:
/// protocols/README.md; each shipped protocol file names the source of its values).
public struct TrainingSettings: Sendable, Hashable {
    /// Epochs of phase 0.
    public var epochs: Int
    /// Epochs of each incremental phase.
    public var incrementalEpochs: Int
    public var batchSize: Int
    public var testBatchSize: Int
    /// SGD learning rate of phase 0 (`base_lr1` in [AAN]).
    public var learningRate: Double
    /// SGD learning rate of the incremental phases (`base_lr2`).
    public var incrementalLearningRate: Double
    public var momentum: Double
    public var weightDecay: Double
    public var schedule: Schedule

    public init(epochs: Int, incrementalEpochs: Int, batchSize: Int, testBatchSize: Int, learningRate: Double,
                incrementalLearningRate: Double, momentum: Double, weightDecay: Double, schedule: Schedule) {
        self.epochs = epochs
        self.incrementalEpochs = incrementalEpochs
        self.batchSize = batchSize
        self.testBatchSize = testBatchSize
        self.learningRate = learningRate
        self.incrementalLearningRate = incrementalLearningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.schedule = schedule
    }

    /// The learning-rate schedule of a phase.
    public struct Schedule: Sendable, Hashable {
        public enum Kind: String, Sendable, Hashable, CaseIterable {
            case constant, multistep, cosine
        }
        public var kind: Kind
        /// Epoch indices at which multistep multiplies the rate by `gamma`.
        public var milestones: [Int]
        public var gamma: Double
        /// Cosine annealing's floor.
        public var minimumLearningRate: Double
        /// Whether the reference code's scheduler.step() runs before each epoch, so every
        /// decay lands one epoch early (gotcha G4: [AAN] and [LUCIR] yes, [POD] no).
        public var stepsAtEpochStart: Bool
        /// Whether the scheduler is stepped after each epoch with that epoch's own index
        /// (`scheduler.step(epoch)`), so epoch e ≥ 1 trains at epoch e − 1's rate (G16: [POD]
        /// `inclearn/models/icarl.py` `_training_step`, which PODNet inherits).
        public var lagsOneEpoch: Bool

        public init(kind: Kind, milestones: [Int] = [], gamma: Double = 0.1, minimumLearningRate: Double = 0, stepsAtEpochStart: Bool, lagsOneEpoch: Bool = false) {
            self.lagsOneEpoch = lagsOneEpoch
            self.kind = kind
            self.milestones = milestones
            self.gamma = gamma
            self.minimumLearningRate = minimumLearningRate
            self.stepsAtEpochStart = stepsAtEpochStart
        }

        /// The engine's schedule for a phase of `epochs` epochs (cosine anneals over the phase).
        public func learningRateSchedule(epochs: Int) -> LearningRateSchedule {
            switch kind {
            case .constant: return .constant
            case .multistep: return .multiStep(milestones: milestones, gamma: gamma)
            case .cosine: return .cosine(totalEpochs: epochs, minimum: minimumLearningRate)
            }
        }

        /// The schedule of AANets' α optimiser in a phase of `epochs` epochs. [AAN]
        /// `trainer/base_trainer.py` l.676-683 always gives α a MultiStepLR over `lr_strat`,
        /// also where the network anneals by cosine (ImageNet, l.681-682), and `lr_strat` is
        /// then [int(0.333·E), int(0.667·E)] (l.139). Found by the reference fixtures (issue 10).
        public func alphaLearningRateSchedule(epochs: Int) -> LearningRateSchedule {
            switch kind {
            case .constant: return .constant
            case .multistep: return .multiStep(milestones: milestones, gamma: gamma)
            case .cosine: return .multiStep(milestones: [Int(Double(epochs) * 0.333), Int(Double(epochs) * 0.667)], gamma: gamma)
            }
        }
    }

    /// Epochs of phase k.
    public func epochs(phase k: Int) -> Int { k == 0 ? epochs : incrementalEpochs }
    /// Base learning rate of phase k.
    public func learningRate(phase k: Int) -> Double { k == 0 ? learningRate : incrementalLearningRate }
    /// Learning rate of 0-based `epoch` in phase k, with the schedule's G4 convention.
    public func learningRate(phase k: Int, epoch: Int) -> Double {
        schedule.learningRateSchedule(epochs: epochs(phase: k))
            .learningRate(base: learningRate(phase: k), epoch: epoch, steppedAtEpochStart: schedule.stepsAtEpochStart, lagsOneEpoch: schedule.lagsOneEpoch)
    }
}
