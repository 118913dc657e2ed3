/// How many exemplars the memory keeps.
public enum MemoryPolicy: Sendable, Hashable, Codable {
    /// m exemplars for every seen class; memory grows with the classes (LUCIR, PODNet,
    /// the AANets paper setting).
    case perClass(Int)
    /// A fixed total K shared by the seen classes, ⌊K / seen⌋ each (iCaRL); old classes
    /// shrink to their best-ranked exemplars. The total never exceeds K.
    case fixedTotal(Int)

    public func exemplarsPerClass(seenClasses: Int) -> Int {
        switch self {
        case .perClass(let m): m
        case .fixedTotal(let k): seenClasses > 0 ? k / seenClasses : 0
        }
    }
}

/// Herding ranks per class, computed once in the class's own phase and reused: exemplars of
/// old classes are never re-selected, only cut to the best-ranked m when m shrinks.
public struct ExemplarMemory: Sendable, Equatable {
    public let policy: MemoryPolicy
    /// Training-set indices per learning position, best-ranked first.
    public private(set) var ranked: [[Int]] = []

    public init(policy: MemoryPolicy, ranked: [[Int]] = []) {
        self.policy = policy
        self.ranked = ranked
    }

    /// Records the ranking of the class at learning position `ranked.count`.
    public mutating func append(rankedIndices: [Int]) { ranked.append(rankedIndices) }

    /// The exemplars kept for `seenClasses` classes: the best-ranked m of each.
    public func exemplars(seenClasses: Int) -> [[Int]] {
        let m = policy.exemplarsPerClass(seenClasses: seenClasses)
        return ranked.prefix(seenClasses).map { Array($0.prefix(m)) }
    }

    /// All kept exemplar indices, class by class.
    public func allExemplars(seenClasses: Int) -> [Int] { exemplars(seenClasses: seenClasses).flatMap { $0 } }

    /// Digest of the kept exemplar indices, for the bundle's digests.csv.
    public func digest(seenClasses: Int) -> UInt64 {
        exemplars(seenClasses: seenClasses).enumerated().reduce(Digest.fnv1a("exemplars")) { h, entry in
            entry.element.reduce(Digest.combine(h, UInt64(entry.offset))) { Digest.combine($0, UInt64($1)) }
        }
    }
}
