/// iCaRL herding as AANets, LUCIR and PODNet implement it:
/// L2-normalise the features, then greedily pick the sample whose feature best moves the
/// running mean of the picks towards the class mean. A sample picked again is not ranked
/// again; the loop stops at `count` ranked samples or after 1000 iterations.
public enum Herding {
    /// Indices into the rows of `features` ([n, D]) in herding rank order (best first).
    public static func rank(_ features: Tensor, count: Int, maxIterations: Int = 1000) -> [Int] {
        precondition(features.rank == 2)
        let n = features.shape[0], d = features.shape[1]
        let raw = features.doubles
        var unit = [Double](repeating: 0, count: n * d)
        for i in 0..<n {
            var norm = 0.0
            for k in 0..<d { norm += raw[i * d + k] * raw[i * d + k] }
            let inverse = 1 / max(norm.squareRoot(), 1e-12)
            for k in 0..<d { unit[i * d + k] = raw[i * d + k] * inverse }
        }
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for k in 0..<d { mean[k] += unit[i * d + k] } }
        for k in 0..<d { mean[k] /= Double(max(n, 1)) }
        var w = mean
        var ranked: [Int] = []
        var picked = [Bool](repeating: false, count: n)
        var iteration = 0
        let target = min(count, n)
        while ranked.count < target && iteration < maxIterations {
            var best = 0, bestScore = -Double.infinity
            for i in 0..<n {
                var score = 0.0
                for k in 0..<d { score += w[k] * unit[i * d + k] }
                if score > bestScore {
                    bestScore = score
                    best = i
                }
            }
            if !picked[best] {
                picked[best] = true
                ranked.append(best)
            }
            for k in 0..<d { w[k] += mean[k] - unit[best * d + k] }
            iteration += 1
        }
        return ranked
    }
}
