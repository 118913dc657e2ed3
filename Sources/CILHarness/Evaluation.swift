import CILMethods

/// CNN and NME classification of test images, scored overall and per phase of introduction.
enum Evaluation {
    /// argmax over the rows of [n, C].
    static func argmax(_ scores: Tensor) -> [Int] {
        let c = scores.shape[1]
        let values = scores.floats
        return (0..<scores.shape[0]).map { row in
            var best = 0
            for j in 1..<c where values[row * c + j] > values[row * c + best] { best = j }
            return best
        }
    }

    /// Class means as LUCIR/AANets compute them: normalise each exemplar feature, average,
    /// normalise the mean.
    static func classMeans(_ features: Tensor, groups: [[Int]]) -> Tensor {
        ClassMeanViews.means([features], groups: groups)
    }

    /// Nearest class mean: argmin ‖f − μ̂_c‖² = argmax ⟨f, μ̂_c⟩ − ‖μ̂_c‖²/2, and the means are unit.
    static func nearestMean(_ features: Tensor, means: Tensor, engine: ComputeEngine) -> [Int] {
        argmax(engine.matmul(features, means, transposeB: true))
    }

    /// Correct predictions and test images per phase of introduction.
    static func count(predictions: [Int], labels: [Int], phaseOfPosition: (Int) -> Int, phases: Int) -> (correct: [Int], total: [Int]) {
        var correct = [Int](repeating: 0, count: phases), total = [Int](repeating: 0, count: phases)
        for (p, y) in zip(predictions, labels) {
            let phase = phaseOfPosition(y)
            total[phase] += 1
            if p == y { correct[phase] += 1 }
        }
        return (correct, total)
    }
}
