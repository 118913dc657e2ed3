/// What one classifier (CNN head or NME) got right over a whole run, kept as counts so that
/// every accuracy below is exact and the sample-weighted and phase-averaged variants can
/// both be derived (they differ whenever phases hold different numbers of test images,
/// e.g. the 50 base classes against 10 per phase; mmasana/FACIL prints both, `avg` and `wavg`).
///
/// All accuracies are percentages in 0...100. Phases are numbered from 0 (the base phase);
/// N = `lastPhase`, so a run has N + 1 evaluations.
public struct AccuracyMatrix: Sendable, Hashable {
    /// `correct[k][j]` for j ≤ k: test images of the classes introduced in phase j that the
    /// classifier labelled correctly (over all classes seen so far) after training phase k.
    public let correct: [[Int]]
    /// `testImages[j]`: test images of the classes introduced in phase j.
    public let testImages: [Int]

    public init(correct: [[Int]], testImages: [Int]) throws(MetricsError) {
        guard !testImages.isEmpty else { throw .invalidMatrix("no phases") }
        guard correct.count == testImages.count else {
            throw .invalidMatrix("\(correct.count) rows of counts for \(testImages.count) phases")
        }
        for (j, n) in testImages.enumerated() where n <= 0 {
            throw .invalidMatrix("phase \(j) has \(n) test images")
        }
        for (k, row) in correct.enumerated() {
            guard row.count == k + 1 else {
                throw .invalidMatrix("row \(k) has \(row.count) entries; after phase \(k) there are \(k + 1) phases to score")
            }
            for (j, c) in row.enumerated() where c < 0 || c > testImages[j] {
                throw .invalidMatrix("after phase \(k), \(c) of \(testImages[j]) phase-\(j) test images correct")
            }
        }
        self.correct = correct
        self.testImages = testImages
    }

    /// Number of evaluations, N + 1.
    public var phaseCount: Int { testImages.count }
    /// N, the index of the last phase.
    public var lastPhase: Int { testImages.count - 1 }

    /// a[k][j]: accuracy after phase k on the test images of the classes introduced in
    /// phase j (j ≤ k).
    public func accuracy(afterPhase k: Int, onClassesOfPhase j: Int) -> Double {
        precondition(j <= k && k < phaseCount, "a[\(k)][\(j)] is outside the lower triangle of \(phaseCount) phases")
        return percent(correct[k][j], testImages[j])
    }

    /// A_k, the papers' "accuracy at phase k": top-1 over the test images of every class
    /// seen so far, each image counting once (sample-weighted).
    public func accuracyOnSeenClasses(afterPhase k: Int) -> Double {
        percent(correct[k].reduce(0, +), testImages[0...k].reduce(0, +))
    }

    /// Mean over the phases j ≤ k of a[k][j], each phase counting once whatever its size
    /// (FACIL's `avg` as opposed to `wavg`). Not what the AANets paper reports.
    public func phaseAveragedAccuracy(afterPhase k: Int) -> Double {
        (0...k).map { accuracy(afterPhase: k, onClassesOfPhase: $0) }.reduce(0, +) / Double(k + 1)
    }

    /// Sample-weighted accuracy after phase k on the classes of the earlier phases 0..<k
    /// (PODNet's "old" accuracy); nil after phase 0, which has no old classes.
    public func oldClassAccuracy(afterPhase k: Int) -> Double? {
        guard k > 0 else { return nil }
        return percent(correct[k][0..<k].reduce(0, +), testImages[0..<k].reduce(0, +))
    }

    /// Accuracy after phase k on the classes that phase k introduced, a[k][k].
    public func newClassAccuracy(afterPhase k: Int) -> Double {
        accuracy(afterPhase: k, onClassesOfPhase: k)
    }

    /// Accuracy after phase k on the base (phase-0) classes, a[k][0]: the forgetting curve
    /// and the input to the Mnemonics forgetting rate ([AAN] `top1_acc_list_ori`,
    /// `trainer/base_trainer.py` l.765-789).
    public func phase0ClassAccuracy(afterPhase k: Int) -> Double {
        accuracy(afterPhase: k, onClassesOfPhase: 0)
    }

    private func percent(_ right: Int, _ total: Int) -> Double { 100 * Double(right) / Double(total) }
}

extension AccuracyMatrix: Codable {
    private enum CodingKeys: String, CodingKey { case correct, testImages }

    // Decoding goes through the validating initialiser: a bundle from disk must not yield
    // a matrix whose metrics would trap.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(correct: c.decode([[Int]].self, forKey: .correct), testImages: c.decode([Int].self, forKey: .testImages))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(correct, forKey: .correct)
        try c.encode(testImages, forKey: .testImages)
    }
}

/// Input to the metrics that cannot describe a run.
public enum MetricsError: Error, Equatable, CustomStringConvertible {
    case invalidMatrix(String)

    public var description: String {
        switch self {
        case .invalidMatrix(let why): return "invalid accuracy matrix: \(why)"
        }
    }
}
