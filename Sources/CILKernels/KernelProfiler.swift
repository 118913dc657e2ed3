import Foundation

/// Attributes wall time to kernel kinds: each call is charged the time since the previous
/// call ended, so the host-side work between kernels lands on the kernel that follows it.
public final class KernelProfiler: KernelObserver {
    public private(set) var totals: [String: (calls: Int, nanoseconds: UInt64)] = [:]
    private var last = DispatchTime.now().uptimeNanoseconds

    public init() {}

    public var wantsDigests: Bool { false }

    /// Starts a new interval (call before the timed region).
    public func mark() { last = DispatchTime.now().uptimeNanoseconds }

    public func kernelDidRun(_ record: KernelRecord) {
        let now = DispatchTime.now().uptimeNanoseconds
        let entry = totals[record.kind] ?? (0, 0)
        totals[record.kind] = (entry.calls + 1, entry.nanoseconds + (now - last))
        last = now
    }

    public func reset() {
        totals = [:]
        mark()
    }

    /// Kinds sorted by time, most first (ties by name, so the listing is stable).
    public var report: [(kind: String, calls: Int, milliseconds: Double)] {
        totals.map { ($0.key, $0.value.calls, Double($0.value.nanoseconds) / 1e6) }
            .sorted { $0.2 != $1.2 ? $0.2 > $1.2 : $0.0 < $1.0 }
    }
}
