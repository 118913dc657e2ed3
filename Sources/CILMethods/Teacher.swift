/// The previous phase's network, frozen: what distillation-based methods compare against.
/// It is taken when a phase begins, so under AANets it is the plain phase-0 network at
/// phase 1 and the dual-branch network (with its own frozen α) afterwards ([AAN]
/// `trainer/base_trainer.py` l.316, l.359; G7).
public struct Teacher {
    public let network: Network

    /// Snapshots `network` (a deep copy; later training of `network` never reaches it).
    public init(snapshotOf network: Network) {
        self.network = network.frozenCopy()
    }

    /// What the teacher says about a batch: its logits over the old classes and its pooled
    /// feature, both constants for the student's graph.
    public struct Outputs {
        public let logits: Tensor
        public let pooled: Tensor
    }

    /// Runs the teacher in evaluation mode (the reference code calls `ref_model.eval()`, so
    /// BN uses running statistics) without recording gradients.
    public func outputs(_ images: Tensor, engine: ComputeEngine) throws -> Outputs {
        let g = Graph(engine: engine, recordsGradients: false)
        let out = try network.forward(g, images: g.constant(images), mode: .evaluation)
        return Outputs(logits: g[out.logits], pooled: g[out.features.pooled])
    }
}
