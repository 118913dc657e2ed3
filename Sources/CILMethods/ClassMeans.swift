import CILKernels

/// Unit class means of exemplar features, the one formula behind the harness's NME means
/// (`ClassMeanViews`, README.md G1) and Mnemonics' old-class means ([AAN]
/// `trainer/base_trainer.py` l.924, [MAN] `trainer/mnemonics.py` l.284-295):
///   μ_c = Σ_views Σ_{r ∈ c} φ_v(r)/‖φ_v(r)‖,  then μ_c /= ‖μ_c‖   (in float64)
public enum ClassMeans {
    /// Means [C, D] (float32) of `groups` of rows over every view's features [N, D] (row r
    /// of every view is the same exemplar).
    public static func unit(_ views: [Tensor], groups: [[Int]]) -> Tensor {
        let d = views[0].shape[1]
        let values = views.map(\.doubles)
        var means: [Float] = []
        for members in groups {
            var mean = [Double](repeating: 0, count: d)
            for view in values {
                for row in members {
                    var norm = 0.0
                    for k in 0..<d { norm += view[row * d + k] * view[row * d + k] }
                    // F.normalize's ε: an all-zero feature stays zero instead of NaN.
                    let inverse = 1 / max(norm.squareRoot(), 1e-12)
                    for k in 0..<d { mean[k] += view[row * d + k] * inverse }
                }
            }
            let norm = max(mean.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
            means += mean.map { Float($0 / norm) }
        }
        return Tensor(shape: [groups.count, d], scalars: means)
    }
}
