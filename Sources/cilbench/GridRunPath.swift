import CILHarness
import Foundation

/// The one place the grid starts a run: the harness's `RunExecution`, with `--resume`
/// semantics and the shared phase-0 cache, exactly as `cilbench run --resume` (same bundle
/// path, same bits).
enum GridRunPath {
    enum Event {
        case progress(RunEvent)
        /// Continuing after this many finished phases (from the cell's checkpoint).
        case resumed(Int)
        case note(String)
    }

    /// Prepares the cell's run (output checks, the cell's lock, data, engine) and returns
    /// the call that trains it and writes its bundle.
    static func start(_ cell: GridCell, out: URL, threads: Int, dataRoot: String?, observer: @escaping (Event) -> Void) throws -> () throws -> URL {
        let request = RunRequest(protocol: cell.protocolFile, method: cell.method, aanets: cell.aanets, seed: cell.seed, dataRoot: dataRoot, threads: threads)
        let options = RunExecution.Options(resume: true, phaseZeroCache: true, build: BuildInfo.identity)
        let execution = try RunExecution(request: request, outputFolder: out, options: options) { event in
            switch event {
            case .progress(let e): observer(.progress(e))
            case .resumed(let finished, let phases, _):
                observer(.resumed(finished))
                observer(.note("resuming after phase \(finished) of \(phases)"))
            case .phaseZeroFromCache(let path): observer(.note("phase 0 from the cache: \(path)"))
            case .cacheEntryIgnored(let path, let reason): observer(.note("warning: ignoring the phase-0 cache entry \(path): \(reason)"))
            case .cacheWriteFailed(let path, let reason): observer(.note("warning: the phase-0 cache entry \(path) was not written: \(reason)"))
            case .replacingBundle(let path): observer(.note("replacing \(path) (same settings)"))
            default: break
            }
        }
        return {
            let outcome = try execution.execute()
            guard let url = outcome.bundleURL else { throw HarnessError.mismatch("the run wrote no bundle") }
            return url
        }
    }
}
