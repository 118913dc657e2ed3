import CILKernels
import CILNetworks

/// The exemplar-level objective of Mnemonics as the public code computes it ([MAN]
/// `mnemonics-training/1_train/trainer/mnemonics.py` l.302-374):
/// a query batch's pooled features are classified by cosine similarity against one mean per
/// seen class, and the loss is cross-entropy on those unscaled cosine logits:
///   m_c = mean_i φ(e_{c,i})                (new class c: its learnable exemplars, raw features)
///   m_c = fixed unit mean of old exemplars  (old class c; both NME views, G1)
///   L   = CE( ⟨φ(q)/‖φ(q)‖, m_c/‖m_c‖⟩_c , y )
/// The classifier is the closed-form answer to the paper's model-level problem, so the
/// bilevel optimisation collapses to one level; the network is frozen and in evaluation
/// mode (the code's `tg_model.eval()` and an optimiser over the exemplars only).
///
/// Gradients w.r.t. the pixels are computed in two stages so memory stays bounded by one
/// class's exemplars (the code forwards every new-class exemplar in one graph, 2000 images
/// in CIFAR's phase 0): first the loss gradient w.r.t. each class's exemplar features, then
/// per class a backward of Σ φ(e) ⊙ ∂L/∂φ(e) through the network into the pixels. By the
/// chain rule this is exactly ∂L/∂e; a test checks it against float64 finite differences.
public struct MnemonicsObjective {
    /// A frozen copy of the network's backbone (no parameter asks for a gradient).
    public let backbone: any Backbone
    /// Old classes' means [C_old, D] with unit rows, or nil in phase 0 (no old classes).
    public let oldMeans: Tensor?
    public let engine: ComputeEngine

    public init(backbone: any Backbone, oldMeans: Tensor?, engine: ComputeEngine) {
        self.backbone = backbone
        self.oldMeans = oldMeans
        self.engine = engine
    }

    /// Pooled evaluation-mode features [n, D] of normalised NHWC `images`, without gradients.
    public func features(_ images: Tensor) throws -> Tensor {
        let g = Graph(engine: engine, recordsGradients: false)
        return g[try backbone.features(g, g.constant(images), mode: .evaluation).pooled]
    }

    /// Exemplar features through the same unfolded evaluation path the gradient pass takes,
    /// so the means in the loss and the linearisation point of its backward agree exactly.
    func exemplarFeatures(_ images: Tensor) throws -> Tensor {
        let g = Graph(engine: engine)
        return g[try backbone.features(g, g.constant(images), mode: .evaluation).pooled]
    }

    /// The loss of one query batch given each new class's exemplar features, and (when
    /// `gradients`) ∂L/∂features of each new class.
    public func loss(newClassFeatures: [Tensor], queryFeatures: Tensor, labels: [Int32], gradients: Bool) throws -> (loss: Double, gradients: [Tensor]) {
        guard !newClassFeatures.isEmpty else { throw MethodError.unsupported("mnemonics: no new class has exemplars to optimise") }
        let g = Graph(engine: engine, recordsGradients: gradients)
        let leaves = newClassFeatures.map { gradients ? g.variable($0) : g.constant($0) }
        let dimension = newClassFeatures[0].shape[1]
        var rows: [Var] = oldMeans.map { [g.constant($0)] } ?? []
        rows += leaves.map { g.reshape(g.mean($0, axis: 0), [1, dimension]) }
        let classes = (oldMeans?.shape[0] ?? 0) + leaves.count
        if let stray = labels.first(where: { $0 < 0 || Int($0) >= classes }) {
            throw MethodError.unsupported("mnemonics: query label \(stray) is outside the \(classes) classes with a mean")
        }
        let means = rows.count == 1 ? rows[0] : concatenateRows(g, rows)
        let logits = g.cosineSimilarity(g.constant(queryFeatures), means)
        let loss = g.crossEntropy(logits, labels: labels)
        guard gradients else { return (g[loss].scalarValue, []) }
        try g.backward(from: loss)
        let grads = zip(leaves, newClassFeatures).map { g.gradient(of: $0) ?? Tensor(zeros: $1.shape, dtype: $1.dtype) }
        return (g[loss].scalarValue, grads)
    }

    /// The loss of one query batch for exemplar pixel tensors (one [n_c, H, W, C] per new class).
    public func loss(exemplars: [Tensor], queryFeatures: Tensor, labels: [Int32]) throws -> Double {
        try loss(newClassFeatures: exemplars.map(exemplarFeatures), queryFeatures: queryFeatures, labels: labels, gradients: false).loss
    }

    /// Adds ∂L/∂pixels of one query batch to each exemplar parameter's `gradient` and
    /// returns the loss.
    @discardableResult
    public func accumulateGradient(exemplars: [Parameter], queryFeatures: Tensor, labels: [Int32]) throws -> Double {
        let features = try exemplars.map { try exemplarFeatures($0.value) }
        let (value, featureGradients) = try loss(newClassFeatures: features, queryFeatures: queryFeatures, labels: labels, gradients: true)
        for (p, dF) in zip(exemplars, featureGradients) {
            let g = Graph(engine: engine)
            let pooled = try backbone.features(g, g.parameter(p), mode: .evaluation).pooled
            try g.backward(from: g.sum(g.multiply(pooled, g.constant(dF))))
        }
        return value
    }

    /// Unit-norm class means [C, D] of groups of images, each group given in one or more
    /// views (row r of every view is the same image), by the harness's NME formula
    /// (`ClassMeans.unit`; the code's `class_means[:, c, 0]`, G1).
    public func unitMeans(_ groups: [[Tensor]]) throws -> Tensor {
        let rows = try groups.map { views in try ClassMeans.unit(views.map(features), groups: [Array(0..<views[0].shape[0])]).floats }
        let means = Tensor(shape: [groups.count, rows.first?.count ?? 0], scalars: rows.flatMap { $0 })
        return groups.first?.first?.dtype == .float64 ? means.converted(to: .float64) : means
    }
}
