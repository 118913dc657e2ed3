import Foundation

/// libgomp (oneDNN's thread pool) reads its settings once, when it is loaded, before any
/// Swift code runs. Its default wait policy spins idle threads for a while after each
/// parallel region; with the data loader's thread or any other process on a 2-core machine,
/// the spinning thread takes the core the others need and a step can run 5x slower.
/// cilbench therefore runs with OMP_WAIT_POLICY=passive unless the user chose a policy,
/// by re-executing itself once with the variable set.
enum ProcessSetup {
    static func ensureOpenMPWaitPolicy() {
        guard ProcessInfo.processInfo.environment["OMP_WAIT_POLICY"] == nil else { return }
        setenv("OMP_WAIT_POLICY", "passive", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv returns only on failure; run on with the default policy then.
    }
}
