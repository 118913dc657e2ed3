// Work splitting for the hand-written kernels.
//
// Kernels cut their work into a number of chunks that depends only on the tensor shape,
// never on the thread count, and every reduction keeps one partial result per chunk that
// is combined afterwards in chunk order. Which thread ran a chunk therefore cannot change
// a single bit of any result.
//
// The chunks run on libgomp's thread team, the same threads oneDNN uses. Those threads
// spin for a while after every oneDNN primitive; threads of our own (Dispatch) would have
// to compete with a spinning OpenMP worker for the second core right after each
// convolution. libgomp is already loaded (libdnnl links it); its entry point is looked up
// at run time because Swift cannot express `#pragma omp parallel`.
import Foundation

private typealias GompParallel = @convention(c) (
    @convention(c) (UnsafeMutableRawPointer?) -> Void, UnsafeMutableRawPointer?, UInt32, UInt32
) -> Void
private typealias OmpQuery = @convention(c) () -> Int32

private struct OpenMPEntryPoints {
    let parallel: GompParallel
    let threadNumber: OmpQuery
    let teamSize: OmpQuery
}

private let openMP: OpenMPEntryPoints? = {
    // A null handle is RTLD_DEFAULT: search every library already loaded.
    guard let p = dlsym(nil, "GOMP_parallel"),
          let n = dlsym(nil, "omp_get_thread_num"),
          let t = dlsym(nil, "omp_get_num_threads")
    else { return nil }
    return OpenMPEntryPoints(
        parallel: unsafeBitCast(p, to: GompParallel.self),
        threadNumber: unsafeBitCast(n, to: OmpQuery.self),
        teamSize: unsafeBitCast(t, to: OmpQuery.self))
}()

/// What a parallel region runs: chunk ranges for one worker of a team. Sendable by the
/// contract of `parallelChunks`: workers touch disjoint memory.
private struct ParallelJob: @unchecked Sendable {
    let chunks: Int
    let body: (Range<Int>) -> Void

    /// Contiguous, balanced ranges keep each thread on neighbouring memory.
    func run(worker: Int, of team: Int) {
        let lo = chunks * worker / team
        let hi = chunks * (worker + 1) / team
        if lo < hi { body(lo..<hi) }
    }
}

private let openMPTrampoline: @convention(c) (UnsafeMutableRawPointer?) -> Void = { context in
    guard let context, let omp = openMP else { return }
    let job = context.assumingMemoryBound(to: ParallelJob.self)
    job.pointee.run(worker: Int(omp.threadNumber()), of: Int(omp.teamSize()))
}

/// Runs `body` over chunk ranges covering `0..<chunks` exactly once, on up to `threads`
/// threads, and returns when all have finished. `body` must only write to memory owned by
/// its chunks.
func parallelChunks(_ chunks: Int, threads: Int, _ body: (Range<Int>) -> Void) {
    guard chunks > 0 else { return }
    let team = min(threads, chunks)
    if team <= 1 {
        body(0..<chunks)
        return
    }
    withoutActuallyEscaping(body) { escapable in
        var job = ParallelJob(chunks: chunks, body: escapable)
        if let omp = openMP {
            withUnsafeMutablePointer(to: &job) { omp.parallel(openMPTrampoline, UnsafeMutableRawPointer($0), UInt32(team), 0) }
        } else {
            let j = job
            DispatchQueue.concurrentPerform(iterations: team) { j.run(worker: $0, of: team) }
        }
    }
}

/// Number of chunks of about `grain` items each (at least one).
@inline(__always)
func chunkCount(_ items: Int, grain: Int) -> Int { max(1, (items + grain - 1) / grain) }
