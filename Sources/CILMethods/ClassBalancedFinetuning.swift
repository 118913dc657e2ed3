/// LUCIR's class-balanced finetuning (CBF), as the ImageNet-Full
/// script runs it: [LUCIR] `imagenet-class-incremental/cbf_class_incremental_cosine_imagenet.py`
/// (arguments l.96-105; the `if iteration > start_iter and args.cb_finetune:` block).
///
/// After each incremental phase's exemplars are selected (and before the phase is scored):
/// - data: every kept exemplar of every seen class (`X_protoset_cumuls`), the training
///   transform, shuffled, batch `train_batch_size` = 128;
/// - loss: the phase's own LUCIR loss (`incremental_train_and_eval_MR_LF`) with the phase's
///   teacher and λ, margin ranking included (`ft_flag` 2);
/// - parameters (`ft_flag` 2): old and new class vectors (`fc.fc1`, `fc.fc2`) at lr
///   `ft_base_lr` = 0.01 and the script's weight decay 1e-4; the backbone at lr 0, wd 0;
///   σ is in neither group (it is a parameter of `fc` itself), so it stays;
/// - `fix_bn=True`: BN runs on its running statistics and does not update them;
/// - SGD momentum 0.9, `ft_epochs` = 20, MultiStepLR(`ft_lr_strat` = [10], ×0.1), stepped at
///   each epoch's start as every LUCIR loop does (G4).
/// The finetuned head is what the phase is scored with and what the next phase's teacher
/// copies; class means are unchanged (the features are).
public struct ClassBalancedFinetuning: Sendable, Equatable {
    public static let settingKeys = ["cbf_epochs", "cbf_lr", "cbf_milestones", "cbf_gamma", "cbf_momentum", "cbf_weight_decay",
                                     "cbf_batch_size", "cbf_steps_at_epoch_start"]

    public var epochs: Int
    public var learningRate: Double
    public var milestones: [Int]
    public var gamma: Double
    public var momentum: Double
    public var weightDecay: Double
    public var batchSize: Int
    public var stepsAtEpochStart: Bool

    public init(settings: MethodSettings) throws {
        epochs = try settings.int("cbf_epochs", default: 20)
        learningRate = try settings.double("cbf_lr", default: 0.01)
        milestones = try Self.milestones(settings.values["cbf_milestones"] ?? "[10]")
        gamma = try settings.double("cbf_gamma", default: 0.1)
        momentum = try settings.double("cbf_momentum", default: 0.9)
        weightDecay = try settings.double("cbf_weight_decay", default: 1e-4)
        batchSize = try settings.int("cbf_batch_size", default: 128)
        stepsAtEpochStart = try settings.bool("cbf_steps_at_epoch_start", default: true)
        guard epochs >= 0 else { throw MethodError.badSetting(key: "cbf_epochs", value: "\(epochs)", expected: "at least 0") }
        guard batchSize >= 1 else { throw MethodError.badSetting(key: "cbf_batch_size", value: "\(batchSize)", expected: "at least 1") }
    }

    /// "[10]", "10" or "10, 15" as written in a protocol or `--set`.
    static func milestones(_ text: String) throws -> [Int] {
        let inner = text.trimmingCharacters(in: .whitespaces).trimmingPrefix("[").split(separator: "]").first ?? ""
        let parts = inner.split(whereSeparator: { $0 == "," || $0 == " " })
        let values = parts.compactMap { Int($0) }
        guard values.count == parts.count else { throw MethodError.badSetting(key: "cbf_milestones", value: text, expected: "a list of epoch indices") }
        return values
    }

    public var resolvedSettings: [String: String] {
        ["cbf_epochs": "\(epochs)", "cbf_lr": "\(learningRate)", "cbf_milestones": "[" + milestones.map(String.init).joined(separator: ", ") + "]",
         "cbf_gamma": "\(gamma)", "cbf_momentum": "\(momentum)", "cbf_weight_decay": "\(weightDecay)", "cbf_batch_size": "\(batchSize)",
         "cbf_steps_at_epoch_start": "\(stepsAtEpochStart)"]
    }

    /// Trains every class vector of the cosine head, nothing else, on the exemplars.
    func run(_ lucir: LUCIR, context: PhaseContext, network: Network, data: any PhaseData) throws {
        guard let head = network.head as? CosineLinearHead else {
            throw MethodError.unsupported("lucir class-balanced finetuning needs a cosine head, not \(type(of: network.head))")
        }
        let indices = data.exemplars.flatMap { $0 }
        guard !indices.isEmpty, epochs > 0 else { return }
        // Freeze everything but the class vectors for the pass; restore the flags after, so
        // old vectors are frozen again for the next phase (LUCIR's lr 0 for them: [LUCIR]
        // `cifar100-class-incremental/class_incremental_cosine_cifar100.py` l.327-331).
        let parameters = network.parameters
        let flags = parameters.map(\.isTrainable)
        defer { for (p, t) in zip(parameters, flags) { p.isTrainable = t } }
        for p in parameters { p.isTrainable = head.weights.contains { $0 === p } }
        var sgd = SGD(learningRate: learningRate, momentum: momentum, weightDecay: weightDecay)
        let schedule = LearningRateSchedule.multiStep(milestones: milestones, gamma: gamma)
        for epoch in 0..<epochs {
            sgd.learningRate = schedule.learningRate(base: learningRate, epoch: epoch, steppedAtEpochStart: stepsAtEpochStart)
            let batches = try data.batches(indices: indices, batchSize: batchSize, purpose: "lucir.cbf", epoch: epoch, shuffle: true)
            while let batch = try batches.next() {
                let g = Graph(engine: context.engine)
                let loss = try lucir.loss(g, network: network, batch: batch, context: context, backboneMode: .evaluation)
                try g.backward(from: loss)
                sgd.step(head.weights)
            }
        }
    }
}
