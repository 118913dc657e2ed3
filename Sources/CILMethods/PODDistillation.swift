import Foundation

/// PODNet's pooled-output distillation ([POD]
/// `inclearn/lib/losses/distillation.py` `pod`, `inclearn/lib/losses/base.py`
/// `embeddings_similarity`, `inclearn/models/podnet.py` `_compute_loss`). Both terms compare
/// the student (recorded on the graph) with the frozen teacher (constants).
public enum PODDistillation {
    /// sqrt(n_seen / n_task): the `scheduled_factor` multiplier, n_seen counting the new
    /// classes (`math.sqrt(self._n_classes / self._task_size)`, `_n_classes` already grown).
    public static func scheduleFactor(seenClasses: Int, newClasses: Int) -> Double {
        (Double(seenClasses) / Double(max(newClasses, 1))).squareRoot()
    }

    /// POD-flat without its factor: mean_b (1 − cos(h_b, h*_b)) on the pooled pre-ReLU
    /// features (`F.cosine_embedding_loss` with target 1).
    public static func flat(_ g: Graph, student: Var, teacher: Tensor) -> Var {
        LUCIR.lessForget(g, features: student, teacherFeatures: teacher, lambda: 1)
    }

    /// POD-spatial without its factor: (1/L) Σ_l mean_b ‖v_b^l − v*_b^l‖₂ where, for a map
    /// [B, H, W, C] (NHWC), v is the L2-normalised concatenation of the squared map summed
    /// over width (C·H values) and summed over height (C·W values). The order of values in
    /// v differs from PyTorch's NCHW flattening, which changes neither norm.
    public static func spatial(_ g: Graph, student: [Var], teacher: [Tensor]) throws -> Var {
        guard !student.isEmpty, student.count == teacher.count else {
            throw MethodError.unsupported("POD-spatial needs as many teacher maps as student maps, got \(teacher.count) and \(student.count)")
        }
        var total: Var?
        for (s, t) in zip(student, teacher) {
            guard g[s].shape == t.shape, t.rank == 4 else {
                throw MethodError.unsupported("POD-spatial: student map \(g[s].shape) against teacher map \(t.shape)")
            }
            let distance = g.mean(g.rowNorms(g.subtract(pooledEmbedding(g, s), pooledEmbedding(g, g.constant(t)))))
            total = total.map { g.add($0, distance) } ?? distance
        }
        return g.scale(total!, by: 1 / Double(student.count))
    }

    /// The normalised width- and height-pooled embedding [B, (H + W)·C] of a [B, H, W, C] map.
    static func pooledEmbedding(_ g: Graph, _ map: Var) -> Var {
        let shape = g[map].shape, (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        let squared = g.square(map)
        let overWidth = g.reshape(g.sum(squared, axis: 2), [n, h * c])
        let overHeight = g.reshape(g.sum(squared, axis: 1), [n, w * c])
        return g.l2NormalizeRows(g.concatenateColumns([overWidth, overHeight]))
    }
}

extension Teacher {
    /// The teacher's pooled feature and every stage map (the attention maps of [POD]
    /// `inclearn/convnet/my_resnet.py` and `resnet.py`), in
    /// evaluation mode without gradients, as constants for the student's graph.
    public func podOutputs(_ images: Tensor, engine: ComputeEngine) throws -> (pooled: Tensor, stages: [Tensor]) {
        let g = Graph(engine: engine, recordsGradients: false)
        let features = try network.backbone.features(g, g.constant(images), mode: .evaluation)
        return (g[features.pooled], features.stages.map { g[$0] })
    }
}
