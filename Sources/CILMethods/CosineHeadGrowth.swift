/// How the LUCIR code path grows a cosine head between phases ([LUCIR]
/// `cifar100-class-incremental/class_incremental_cosine_cifar100.py` l.273-331; [AAN]
/// `trainer/base_trainer.py` l.470-549), shared by LUCIR and the AANets-code iCaRL variant
/// ([AAN] `trainer/incremental_icarl.py`): new class vectors are imprinted from
/// the new classes' features and every older vector is frozen.
public enum CosineHeadGrowth {
    /// The imprinted vector of one class ([AAN] `trainer/base_trainer.py` l.470-549):
    /// normalize(mean_j normalize(f_j)) · `norm`. Computed in float64 for determinism.
    public static func imprintedVector(classFeatures features: Tensor, norm: Double) throws -> [Double] {
        guard features.rank == 2, features.shape[0] > 0 else {
            throw MethodError.unsupported("weight imprinting needs at least one feature of the class, got shape \(features.shape)")
        }
        let n = features.shape[0], d = features.shape[1]
        let values = features.doubles
        var mean = [Double](repeating: 0, count: d)
        for j in 0..<n {
            let row = values[(j * d)..<((j + 1) * d)]
            // F.normalize's ε = 1e-12 keeps an all-zero feature at zero instead of NaN.
            let length = max(row.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
            for (i, v) in row.enumerated() { mean[i] += v / length / Double(n) }
        }
        let length = max(mean.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
        return mean.map { $0 / length * norm }
    }

    /// Mean L2 norm of the rows of a [C, D] weight matrix (the code's
    /// `average_old_embedding_norm`).
    public static func meanRowNorm(_ weights: Tensor) -> Double {
        let c = weights.shape[0], d = weights.shape[1]
        let values = weights.doubles
        let norms = (0..<c).map { r in values[(r * d)..<((r + 1) * d)].reduce(0) { $0 + $1 * $1 }.squareRoot() }
        return norms.reduce(0, +) / Double(max(c, 1))
    }

    /// Freezes every existing class vector and appends one imprinted vector per new class,
    /// rescaled to the mean norm of all old vectors. Features come from the network as it
    /// stands before the phase trains (the reference's `tg_feature_model`).
    public static func grow(_ network: Network, context: PhaseContext, features: any TrainingFeatureSource) throws {
        guard let head = network.head as? CosineLinearHead else {
            throw MethodError.unsupported("imprinting needs a cosine head, not \(type(of: network.head))")
        }
        // Old vectors get lr 0 and wd 0 in the reference optimiser: frozen outright.
        for block in head.weights { block.isTrainable = false }
        let norm = meanRowNorm(head.allWeights)
        let d = head.allWeights.shape[1]
        var vectors: [Double] = []
        for position in context.oldClasses..<context.seenClasses {
            vectors += try imprintedVector(classFeatures: features.features(ofClass: position), norm: norm)
        }
        let block = Tensor(shape: [context.newClasses, d], scalars: vectors)
        head.addClasses(head.allWeights.dtype == .float64 ? block : block.converted(to: .float32))
    }
}

/// Unscaled cosines and σ-scaled logits of a cosine head from one computation, for losses
/// that need both (LUCIR's margin ranking uses the cosines: [LUCIR]
/// `utils_incremental/incremental_train_and_eval_MR_LF.py` l.85-127).
public func cosineScores(_ g: Graph, head: CosineLinearHead, features: Var) -> (cosines: Var, logits: Var) {
    let all = head.weights.count == 1 ? g.parameter(head.weights[0]) : concatenateRows(g, head.weights.map { g.parameter($0) })
    let cosines = g.cosineSimilarity(features, all)
    guard let sigma = head.sigma else { return (cosines, cosines) }
    return (cosines, g.scale(cosines, byScalar: g.parameter(sigma)))
}
