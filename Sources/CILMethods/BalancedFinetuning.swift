/// PODNet's classifier-only balanced finetuning after every phase > 0
/// ([POD] `inclearn/models/podnet.py` `_train_task`, `finetuning_config` with
/// `sampling: undersampling`, `tuning: classifier`, `scaling: null`).
///
/// What the code does, and this copies:
/// - data: the exemplar memory of every seen class, the phase's new classes included
///   (`build_examplars` then `get_memory_loader`), with the training augmentation;
/// - parameters: `self._network.classifier.parameters()`, i.e. *every* proxy block, old
///   ones too; η lives in the post-processor, which is not among them, so it stays fixed;
/// - optimiser: a fresh SGD (momentum 0.9) at the finetuning rate with the run's weight
///   decay, no scheduler; the gradient clamp hooks of the phase still apply;
/// - loss: `_compute_loss`, i.e. NCA plus the POD terms; POD does not depend on the
///   classifier, so it adds no gradient here and is not computed;
/// - mode: the network stays in `train()` mode, so batch norm normalises with batch
///   statistics and its running statistics keep moving over the memory batches.
public struct BalancedFinetuning {
    public var epochs: Int
    public var learningRate: Double
    public var batchSize: Int
    public var weightDecay: Double
    public var momentum = 0.9
    public var gradientClamp: Double?
    public var margin: Double
    public var form: NCAForm

    public func run(_ context: PhaseContext, network: Network, data: any PhaseData) throws {
        guard let head = network.head as? LocalSimilarityHead else {
            throw MethodError.unsupported("balanced finetuning needs an LSC head, not \(type(of: network.head))")
        }
        let indices = data.exemplars.flatMap { $0 }
        guard epochs > 0, !indices.isEmpty else { return }
        let parameters = network.parameters
        let flags = parameters.map(\.isTrainable)
        defer { for (p, flag) in zip(parameters, flags) { p.isTrainable = flag } }
        for p in parameters { p.isTrainable = head.proxies.contains { $0 === p } }
        var sgd = SGD(learningRate: learningRate, momentum: momentum, weightDecay: weightDecay)
        for epoch in 0..<epochs {
            let batches = try data.batches(indices: indices, batchSize: batchSize, purpose: "podnet.balanced_finetuning", epoch: epoch, shuffle: true)
            while let batch = try batches.next() {
                let g = Graph(engine: context.engine)
                let features = try network.backbone.features(g, g.constant(batch.images), mode: .training).pooled
                let loss = g.ncaLoss(head.logits(g, features: features), scale: g.parameter(head.scale), labels: batch.labels, margin: margin, form: form)
                try g.backward(from: loss)
                if let limit = gradientClamp {
                    for p in head.proxies { p.gradient = p.gradient.map { context.engine.unary(.clamp(min: -limit, max: limit), $0) } }
                }
                sgd.step(head.proxies)
            }
        }
    }
}
