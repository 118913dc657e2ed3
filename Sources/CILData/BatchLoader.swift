import CILKernels
import Foundation

/// One epoch of batches over an index set, shuffled by
/// `RandomStream(seed, "shuffle", phase, epoch)` and assembled ahead of time on a
/// background thread, `prefetch` batches deep (2 = double-buffered). `next()` blocks only
/// when training outruns assembly. Batches are identical for any prefetch depth and
/// thread count.
public final class BatchLoader: Sendable {
    public let batchCount: Int
    private let state: PrefetchQueue

    public init(assembler: BatchAssembler, indices: [Int], batchSize: Int, phase: Int, epoch: Int,
                shuffle: Bool = true, dropLast: Bool = false, prefetch: Int = 2, threads: Int = 1) throws {
        guard batchSize > 0, prefetch >= 1, threads >= 1 else {
            throw DataError.invalidArgument("loader needs batch size, prefetch and threads ≥ 1")
        }
        let plan = Self.plan(indices: indices, batchSize: batchSize, seed: assembler.seed, phase: phase, epoch: epoch,
                             shuffle: shuffle, dropLast: dropLast)
        batchCount = plan.count
        let state = PrefetchQueue(depth: prefetch)
        self.state = state
        let producer = Thread {
            for batch in plan {
                guard state.waitForRoom() else { return }
                let result = Result { try assembler.assemble(indices: batch, phase: phase, epoch: epoch, threads: threads) }
                state.push(result)
                if case .failure = result { break }
            }
            state.finish()
        }
        producer.name = "cildata-loader"
        producer.start()
    }

    deinit { state.cancel() }

    /// The order of an epoch: a seeded permutation of `indices`, cut into batches.
    public static func plan(indices: [Int], batchSize: Int, seed: UInt64, phase: Int, epoch: Int, shuffle: Bool, dropLast: Bool) -> [[Int]] {
        var order = indices
        if shuffle {
            var stream = RandomStream(seed: seed, purpose: "shuffle", phase, epoch)
            order = stream.permutation(indices.count).map { indices[$0] }
        }
        var batches: [[Int]] = []
        var start = 0
        while start < order.count {
            let end = min(start + batchSize, order.count)
            if end - start == batchSize || !dropLast { batches.append(Array(order[start..<end])) }
            start = end
        }
        return batches
    }

    /// The next batch, nil after the last; rethrows the first assembly error.
    public func next() throws -> Batch? {
        try state.pop()?.get()
    }
}

/// A bounded queue between the producer thread and the training loop.
final class PrefetchQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Result<Batch, Error>] = []
    private let depth: Int
    private var finished = false
    private var cancelled = false

    init(depth: Int) { self.depth = depth }

    /// Blocks until there is room; false once the consumer has gone away.
    func waitForRoom() -> Bool {
        condition.lock(); defer { condition.unlock() }
        while items.count >= depth && !cancelled { condition.wait() }
        return !cancelled
    }

    func push(_ item: Result<Batch, Error>) {
        condition.lock(); defer { condition.unlock() }
        items.append(item)
        condition.broadcast()
    }

    func finish() {
        condition.lock(); defer { condition.unlock() }
        finished = true
        condition.broadcast()
    }

    func cancel() {
        condition.lock(); defer { condition.unlock() }
        cancelled = true
        condition.broadcast()
    }

    func pop() -> Result<Batch, Error>? {
        condition.lock(); defer { condition.unlock() }
        while items.isEmpty && !finished { condition.wait() }
        if items.isEmpty { return nil }
        let item = items.removeFirst()
        condition.broadcast()
        return item
    }
}
