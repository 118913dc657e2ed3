/// How many exemplars the memory holds (protocol §2.4, gotcha G12): the paper's 20 per
/// class, growing with the classes seen, or iCaRL's fixed total K split over the seen
/// classes, shrinking per class as classes arrive.
public enum MemoryPolicy: Sendable, Hashable {
    case perClass(Int)
    case fixedTotal(Int)

    /// Exemplars kept per class after phase k has been learned with `seenClasses` classes.
    /// Fixed totals round up, as [AAN] does: m = ceil(K / seen) (base_trainer.py l.835-840).
    public func exemplarsPerClass(seenClasses: Int) -> Int {
        switch self {
        case .perClass(let m): return m
        case .fixedTotal(let k): return (k + seenClasses - 1) / seenClasses
        }
    }
}
