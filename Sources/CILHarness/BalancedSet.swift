import CILMethods

/// The class-balanced set of AANets' α pass ([AAN]
/// `base_trainer.py` l.687-734): every old-class exemplar, then new-class training images.
///
/// - `reference` (G13): `np.random.randint(0, len(pool), size=nb_cl*nb_protos)` over the pool
///   of all new-class images — drawn with replacement and only balanced on average.
/// - `corrected`: per new class, `perClass` distinct images (all of them when the class has
///   fewer), drawn without replacement by a partial Fisher–Yates shuffle, class by class.
///
/// Both draw from the run's counter-based stream keyed by (seed, "aanets.balanced_set",
/// phase), once per phase. The reference's draw cannot be reproduced: it runs under
/// `np.random.seed(None)` (G13), so no seed gives its indices.
public enum BalancedSet {
    public static func draw(newClassPools pools: [[Int]], exemplars: [Int], perClass: Int, fidelity: Fidelity,
                            seed: UInt64, phase: Int) -> [Int] {
        var stream = RandomStream(seed: seed, purpose: "aanets.balanced_set", phase)
        switch fidelity {
        case .reference:
            let pool = pools.flatMap { $0 }
            guard !pool.isEmpty else { return exemplars }
            return exemplars + (0..<(perClass * pools.count)).map { _ in pool[stream.nextInt(below: pool.count)] }
        case .corrected:
            var drawn: [Int] = []
            for var pool in pools {
                let take = min(perClass, pool.count)
                for i in 0..<take {
                    pool.swapAt(i, i + stream.nextInt(below: pool.count - i))
                }
                drawn += pool.prefix(take)
            }
            return exemplars + drawn
        }
    }
}
