/// Which classes each phase learns: `initialClasses` in phase 0, then `increment` per
/// phase (B50 with 10/5/2 per phase gives N = 5/10/25). Positions are learning positions
/// in a `ClassOrder`, so phase k's classes are `order.labels[range(k)]`.
public struct PhaseSchedule: Sendable, Hashable {
    public let totalClasses: Int
    public let initialClasses: Int
    public let increment: Int

    public init(totalClasses: Int, initialClasses: Int, increment: Int) throws {
        guard totalClasses > 0, initialClasses > 0, initialClasses <= totalClasses, increment > 0,
              (totalClasses - initialClasses) % increment == 0 else {
            throw DataError.invalidArgument("phase schedule \(initialClasses)+\(increment)·k does not tile \(totalClasses) classes")
        }
        self.totalClasses = totalClasses
        self.initialClasses = initialClasses
        self.increment = increment
    }

    /// Number of phases including phase 0 (N + 1).
    public var phaseCount: Int { 1 + (totalClasses - initialClasses) / increment }

    /// Learning positions of the classes new in phase k.
    public func newPositions(phase k: Int) -> Range<Int> {
        k == 0 ? 0..<initialClasses : (initialClasses + (k - 1) * increment)..<(initialClasses + k * increment)
    }

    /// Learning positions of every class seen up to and including phase k.
    public func seenPositions(phase k: Int) -> Range<Int> { 0..<newPositions(phase: k).upperBound }

    /// Dataset labels new in phase k under an order.
    public func newLabels(phase k: Int, order: ClassOrder) -> [Int] { newPositions(phase: k).map { order.labels[$0] } }
    public func seenLabels(phase k: Int, order: ClassOrder) -> [Int] { seenPositions(phase: k).map { order.labels[$0] } }
}
