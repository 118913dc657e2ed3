// The engine's oneDNN primitives, one per shape key, with what they hold resident
// (scratchpads, weights in the kernels' layouts, blocked copies, kept Winograd weight
// transforms) kept under a byte budget by dropping the least recently used.
//
// Every distinct batch size makes its own primitives, and a run meets many: each phase's
// last, partial training batch, evaluation's last batch, exemplar feature passes. Winograd
// primitives hold their transformed tiles, so a Fashion-MNIST LUCIR + AANets run kept 945
// MB of scratchpads in 339 primitives, almost all used once. A dropped primitive is made
// again when its shape returns; oneDNN picks the same implementation for the same
// descriptors, so results keep their bits. The order of drops follows the order of calls
// only (each use stamps a counter), never a Dictionary's iteration order.

/// A cached primitive that can say how many bytes it keeps allocated.
package protocol ResidentPrimitive: AnyObject {
    var residentBytes: Int { get }
}

package struct PrimitiveCache {
    /// Primitives beyond this many resident bytes are dropped, least recently used first.
    /// A batch-128 AANets step with its two-branch teacher keeps about 100 MB.
    package static let defaultBudgetBytes = 256 << 20

    private var entries: [String: (object: AnyObject, lastUse: UInt64)] = [:]
    private var clock: UInt64 = 0
    package let budgetBytes: Int
    /// How many primitives were dropped over the budget (for `cilbench bench`).
    package private(set) var dropped = 0

    package init(budgetBytes: Int = Self.defaultBudgetBytes) { self.budgetBytes = budgetBytes }

    package subscript(key: String) -> AnyObject? {
        mutating get {
            guard let entry = entries[key] else { return nil }
            clock += 1
            entries[key] = (entry.object, clock)
            return entry.object
        }
        set {
            guard let newValue else { entries[key] = nil; return }
            clock += 1
            entries[key] = (newValue, clock)
            enforceBudget(keeping: key)
        }
    }

    package var keys: [String] { Array(entries.keys) }
    package var count: Int { entries.count }

    /// The bytes all cached primitives keep allocated.
    package var residentBytes: Int { entries.values.reduce(0) { $0 + (($1.object as? ResidentPrimitive)?.residentBytes ?? 0) } }

    package mutating func removeAll() { entries.removeAll() }

    private mutating func enforceBudget(keeping newest: String) {
        var total = residentBytes
        guard total > budgetBytes else { return }
        let oldestFirst = entries.filter { $0.key != newest }.sorted { $0.value.lastUse < $1.value.lastUse }
        for (key, entry) in oldestFirst where total > budgetBytes {
            total -= (entry.object as? ResidentPrimitive)?.residentBytes ?? 0
            entries[key] = nil
            dropped += 1
        }
    }
}

extension ComputeEngine {
    /// How many primitives this engine caches, the bytes they hold, and how many it dropped.
    public var primitiveCacheSummary: (count: Int, residentBytes: Int, dropped: Int) {
        (primitiveCache.count, primitiveCache.residentBytes, primitiveCache.dropped)
    }
}
