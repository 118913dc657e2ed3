import Foundation

/// How PODNet grows its LSC head between phases ([POD]
/// `classifiers.py` `add_imprinted_classes` with `multi_class_diff: kmeans`): every old proxy
/// is frozen (`groupwise_factors: old_weights: 0`), and each new class gets the K centres of
/// a k-means over its training images' L2-normalised features, each multiplied by the mean
/// norm of all existing proxies. Centres are not re-normalised (the code's neither).
public enum ProxyImprinting {
    public static func grow(_ network: Network, context: PhaseContext, features: any TrainingFeatureSource) throws {
        guard let head = network.head as? LocalSimilarityHead else {
            throw MethodError.unsupported("proxy imprinting needs an LSC head, not \(type(of: network.head))")
        }
        for block in head.proxies { block.isTrainable = false }
        let norm = CosineHeadGrowth.meanRowNorm(head.allProxies)
        var values: [Double] = []
        for position in context.oldClasses..<context.seenClasses {
            let classFeatures = try features.features(ofClass: position)
            var stream = RandomStream(seed: context.seed, purpose: "podnet.kmeans", context.phase, position)
            let centres = try KMeans.centres(of: normalizedRows(classFeatures), count: head.proxiesPerClass, stream: &stream)
            values += centres.flatMap { $0.map { $0 * norm } }
        }
        head.addClasses(proxies: Tensor(shape: [context.newClasses * head.proxiesPerClass, head.featureDimension], scalars: values.map(Float.init)))
    }

    /// Rows of a [n, D] tensor as L2-normalised float64 vectors (F.normalize, ε = 1e-12).
    static func normalizedRows(_ features: Tensor) throws -> [[Double]] {
        guard features.rank == 2, features.shape[0] > 0 else {
            throw MethodError.unsupported("proxy imprinting needs at least one feature of the class, got shape \(features.shape)")
        }
        let d = features.shape[1], values = features.doubles
        return (0..<features.shape[0]).map { r in
            let row = Array(values[(r * d)..<((r + 1) * d)])
            let length = max(row.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
            return row.map { $0 / length }
        }
    }
}

/// Lloyd's k-means with k-means++ seeding and several restarts keeping the lowest inertia,
/// as scikit-learn's `KMeans(n_clusters=K)` of the PODNet era (n_init 10, max_iter 300, tol
/// 1e-4 relative to the data's mean variance). Randomness comes only from `stream`, so a
/// run's proxies are a function of its seed; scikit-learn's unseeded draws cannot be matched.
public enum KMeans {
    public static let restarts = 10
    public static let maxIterations = 300

    public static func centres(of points: [[Double]], count k: Int, stream: inout RandomStream) throws -> [[Double]] {
        guard let d = points.first?.count, k >= 1 else { throw MethodError.unsupported("k-means needs points and k ≥ 1") }
        // Fewer points than centres: every point is a centre, repeated in order (sklearn
        // would refuse; a tiny class must still get K proxies).
        if points.count <= k { return (0..<k).map { points[$0 % points.count] } }
        let tolerance = 1e-4 * meanVariance(points, dimension: d)
        var best: (inertia: Double, centres: [[Double]])?
        for _ in 0..<restarts {
            var centres = plusPlusSeeds(points, count: k, stream: &stream)
            var inertia = 0.0
            for _ in 0..<maxIterations {
                let (assignment, total) = assign(points, centres)
                inertia = total
                var sums = [[Double]](repeating: [Double](repeating: 0, count: d), count: k)
                var counts = [Int](repeating: 0, count: k)
                for (p, c) in zip(points, assignment) {
                    counts[c] += 1
                    for j in 0..<d { sums[c][j] += p[j] }
                }
                var shift = 0.0
                for c in 0..<k where counts[c] > 0 {
                    let updated = sums[c].map { $0 / Double(counts[c]) }
                    shift += squaredDistance(updated, centres[c])
                    centres[c] = updated
                }
                if shift <= tolerance { inertia = assign(points, centres).inertia; break }
            }
            if best == nil || inertia < best!.inertia { best = (inertia, centres) }
        }
        return best!.centres
    }

    static func squaredDistance(_ a: [Double], _ b: [Double]) -> Double {
        var s = 0.0
        for j in a.indices { let t = a[j] - b[j]; s += t * t }
        return s
    }

    static func assign(_ points: [[Double]], _ centres: [[Double]]) -> (assignment: [Int], inertia: Double) {
        var inertia = 0.0
        let assignment = points.map { p -> Int in
            var bestIndex = 0, bestDistance = Double.infinity
            for (c, centre) in centres.enumerated() {
                let dist = squaredDistance(p, centre)
                if dist < bestDistance { bestDistance = dist; bestIndex = c }
            }
            inertia += bestDistance
            return bestIndex
        }
        return (assignment, inertia)
    }

    /// k-means++: the first seed uniformly, each next one with probability ∝ D(x)².
    static func plusPlusSeeds(_ points: [[Double]], count k: Int, stream: inout RandomStream) -> [[Double]] {
        var seeds = [points[stream.nextInt(below: points.count)]]
        var nearest = points.map { squaredDistance($0, seeds[0]) }
        while seeds.count < k {
            let total = nearest.reduce(0, +)
            var chosen = stream.nextInt(below: points.count)
            if total > 0 {
                var target = stream.nextDouble() * total
                for (i, w) in nearest.enumerated() {
                    target -= w
                    if target < 0 { chosen = i; break }
                }
            }
            seeds.append(points[chosen])
            for i in points.indices { nearest[i] = min(nearest[i], squaredDistance(points[i], points[chosen])) }
        }
        return seeds
    }

    static func meanVariance(_ points: [[Double]], dimension d: Int) -> Double {
        let n = Double(points.count)
        var total = 0.0
        for j in 0..<d {
            let mean = points.reduce(0) { $0 + $1[j] } / n
            total += points.reduce(0) { $0 + ($1[j] - mean) * ($1[j] - mean) } / n
        }
        return total / Double(d)
    }
}
