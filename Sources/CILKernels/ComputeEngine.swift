import CBLAS
import CDNNL
import Foundation

/// One kernel call as an observer sees it: what ran, on what shapes, and digests of the
/// inputs and the output. Replay and traces are built on these records.
public struct KernelRecord: Sendable, Equatable {
    public var sequence: Int
    /// Where in the run the call happened (what the harness set on `ComputeEngine.context`).
    public var context: KernelContext
    /// The layer's parameter name (e.g. `stage2.block3.conv1.weight`), nil when unknown.
    public var layer: String?
    public var kind: String
    public var shapes: [[Int]]
    public var inputDigests: [UInt64]
    public var outputDigest: UInt64
    /// The call's attributes (stride, padding, epsilon, ...), for observers that ask for them.
    public var attributes: [String: Double]

    public init(sequence: Int, context: KernelContext, layer: String? = nil, kind: String, shapes: [[Int]], inputDigests: [UInt64], outputDigest: UInt64,
                attributes: [String: Double] = [:]) {
        self.sequence = sequence
        self.context = context
        self.layer = layer
        self.kind = kind
        self.shapes = shapes
        self.inputDigests = inputDigests
        self.outputDigest = outputDigest
        self.attributes = attributes
    }
}

/// Receives every kernel call's record, in call order. With no observer attached the
/// engine computes no digests at all; an observer that only times kernels can decline them.
public protocol KernelObserver: AnyObject {
    var wantsDigests: Bool { get }
    var wantsAttributes: Bool { get }
    func kernelDidRun(_ record: KernelRecord)
}

extension KernelObserver {
    public var wantsDigests: Bool { true }
    public var wantsAttributes: Bool { false }
}

/// Which implementation float32 kernels use. `.fast` is oneDNN/OpenBLAS; `.reference` runs
/// the portable loops (float64 tensors always take the reference path).
public enum KernelPath: String, Sendable {
    case fast, reference
}

public enum KernelError: Error, CustomStringConvertible {
    case dnnl(call: String, status: Int32)
    case invalidArgument(String)
    /// Engines whose process-wide settings would conflict.
    case processConfiguration(String)

    public var description: String {
        switch self {
        case .processConfiguration(let what): return what
        case .dnnl(let call, let status): return "oneDNN call \(call) failed with status \(status)"
        case .invalidArgument(let what): return "invalid kernel argument: \(what)"
        }
    }
}

/// Owns the oneDNN engine and stream, the primitive caches and the thread setting of one
/// training run. Not shared between runs; not thread-safe (kernels parallelise inside).
public final class ComputeEngine {
    public let threads: Int
    public var path: KernelPath
    public weak var observer: KernelObserver?
    public private(set) var sequence = 0
    /// Where the run is; the harness sets it at step and stage boundaries, and every
    /// record carries a copy.
    public var context = KernelContext()
    /// The layer (parameter name) the current op belongs to, when the graph knows it.
    public var layer: String?
    /// When set, the call with this sequence number keeps copies of its inputs, attributes
    /// and output in `capturedCall` (`cilbench replay --capture`).
    public var captureSequence: Int?
    public private(set) var capturedCall: KernelCall?

    let dnnlEngine: dnnl_engine_t
    let dnnlStream: dnnl_stream_t
    /// Primitives keyed by shape, made on first use (PrimitiveCache.swift).
    package var primitiveCache = PrimitiveCache()

    /// Whether this engine claimed the process's thread configuration for itself.
    public let exclusive: Bool
    /// Who runs 3x3 stride-1 convolutions; recorded in `environment` (it changes last bits).
    public let conv3x3Kernel: Conv3x3Kernel

    /// - Parameters:
    ///   - threads: 1 ... `ComputeEngine.maximumThreads` (the machine's CPU count).
    ///   - exclusive: the engine of a run: refuses (`KernelError.processConfiguration`)
    ///     while an engine with another thread count lives in this process, and makes
    ///     later engines with another count refuse, since OpenMP's and OpenBLAS's thread
    ///     counts (and glibc's malloc settings) are process-wide and a result's last bits
    ///     depend on them.
    ///   - conv3x3: `.direct` falls back to oneDNN on CPUs without AVX2 and FMA, `.winograd`
    ///     on CPUs (or under a `DNNL_MAX_CPU_ISA`) without oneDNN's AVX-512 Winograd kernels.
    public init(threads: Int = 2, path: KernelPath = .fast, exclusive: Bool = false,
                conv3x3: Conv3x3Kernel = .processDefault) throws {
        try ProcessConfiguration.acquire(threads: threads, exclusive: exclusive)
        self.threads = threads
        conv3x3Kernel = conv3x3.resolvedForThisCPU
        self.path = path
        self.exclusive = exclusive
        // Pin both libraries' thread pools: oneDNN's backward-weights and OpenBLAS's sgemm
        // change their last bits with the thread count.
        omp_set_num_threads(Int32(threads))
        OpenBLASThreads.withCount(threads) {}
        // Keep freed activation buffers mapped instead of unmapping and re-faulting them
        // every batch (glibc's default costs up to 2x on inference).
        cil_keep_freed_memory_mapped()
        var engine: dnnl_engine_t?
        var stream: dnnl_stream_t?
        do {
            try dnnlCheck(dnnl_engine_create(&engine, dnnl_cpu, 0), "dnnl_engine_create")
            try dnnlCheck(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "dnnl_stream_create")
        } catch {
            ProcessConfiguration.release(threads: threads, exclusive: exclusive)
            throw error
        }
        guard let engine, let stream else {
            ProcessConfiguration.release(threads: threads, exclusive: exclusive)
            throw KernelError.invalidArgument("oneDNN returned no engine or stream")
        }
        dnnlEngine = engine
        dnnlStream = stream
    }

    deinit {
        primitiveCache.removeAll()
        dnnl_stream_destroy(dnnlStream)
        dnnl_engine_destroy(dnnlEngine)
        ProcessConfiguration.release(threads: threads, exclusive: exclusive)
    }

    /// The largest thread count an engine accepts: the CPUs this process may use.
    public static var maximumThreads: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// The process-wide settings engines share (OpenMP's and OpenBLAS's thread counts,
    /// glibc's malloc options), checked for every engine made.
    enum ProcessConfiguration {
        nonisolated(unsafe) private static var registry = EngineConfigurationRegistry()
        private static let lock = NSLock()

        static func acquire(threads: Int, exclusive: Bool) throws(KernelError) {
            lock.lock()
            defer { lock.unlock() }
            try registry.acquire(threads: threads, exclusive: exclusive, maximum: ComputeEngine.maximumThreads)
        }

        static func release(threads: Int, exclusive: Bool) {
            lock.lock()
            defer { lock.unlock() }
            registry.release(threads: threads, exclusive: exclusive)
        }
    }

    /// Whether a kernel on tensors of this dtype runs the reference loops.
    @inlinable
    public func usesReference(_ dtype: DType) -> Bool { dtype == .float64 || path == .reference }

    /// Reports a finished kernel call to the observer, if any. Costs nothing without one:
    /// `attributes` (strides, padding, epsilon, ...) is evaluated only for a capture.
    @inline(__always)
    public func record(_ kind: String, inputs: [Tensor], output: Tensor, attributes: @autoclosure () -> [String: Double] = [:]) {
        sequence += 1
        if let captureSequence, captureSequence == sequence {
            capturedCall = KernelCall(kind: kind, attributes: attributes(), inputs: inputs, output: output, context: context)
        }
        guard let observer else { return }
        let digests = observer.wantsDigests
        observer.kernelDidRun(KernelRecord(
            sequence: sequence, context: context, layer: layer, kind: kind, shapes: inputs.map(\.shape) + [output.shape],
            inputDigests: digests ? inputs.map(Digest.of) : [], outputDigest: digests ? Digest.of(output) : 0,
            attributes: observer.wantsAttributes ? attributes() : [:]))
    }

    /// Which kernels a default engine of this process runs: the manifest's entries for the
    /// 3x3 convolution kernel, oneDNN's instruction set and OpenBLAS's core. Each changes
    /// results' last bits, so caches of computed results (the phase-0 cache) are keyed by it.
    public static var processKernelIdentity: String {
        let kernels = processKernels
        return kernelKeys.map { "\($0)=\(kernels[$0] ?? "")" }.joined(separator: "|")
    }

    /// The same entries by name, for messages that say which of them differ.
    public static var processKernels: [String: String] {
        kernelEnvironment(conv3x3: Conv3x3Kernel.processDefault.resolvedForThisCPU).filter { kernelKeys.contains($0.key) }
    }

    /// The manifest entries that name the kernels, in the identity's order.
    static let kernelKeys = ["conv3x3_kernel", "onednn_isa", "openblas_core"]

    /// The entries of `environment` that name the kernels, for an engine running `conv3x3`.
    static func kernelEnvironment(conv3x3: Conv3x3Kernel) -> [String: String] {
        var env: [String: String] = [:]
        switch conv3x3 {
        case .direct: env["conv3x3_kernel"] = "cilbench-avx2-fma"
        case .winograd: env["conv3x3_kernel"] = "onednn-winograd"
        case .onednn: env["conv3x3_kernel"] = "onednn"
        }
        if let v = dnnl_version() {
            env["onednn_version"] = "\(v.pointee.major).\(v.pointee.minor).\(v.pointee.patch)"
        }
        env["onednn_isa"] = String(cString: dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa()))
        env["openblas_core"] = String(cString: openblas_get_corename())
        env["openblas_config"] = String(cString: openblas_get_config())
        return env
    }

    /// What results computed by this engine depend on, for the bundle manifest.
    public var environment: [String: String] {
        var env = Self.kernelEnvironment(conv3x3: conv3x3Kernel)
        env["threads"] = String(threads)
        env["kernel_path"] = path.rawValue
        env["openblas_coretype_env"] = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? ""
        env["omp_wait_policy"] = ProcessInfo.processInfo.environment["OMP_WAIT_POLICY"] ?? "default"
        return env
    }
}

@inline(__always)
func dnnlCheck(_ status: dnnl_status_t, _ call: String) throws {
    if status != dnnl_success { throw KernelError.dnnl(call: call, status: Int32(status.rawValue)) }
}


/// Which thread counts live engines use and whether one is a run's (exclusive) engine: one
/// engine configuration per process. An exclusive engine refuses to start beside engines of
/// another thread count, and no engine of another count starts beside an exclusive one.
public struct EngineConfigurationRegistry: Sendable {
    private var live: [Int: Int] = [:]
    private var exclusiveLive: [Int: Int] = [:]

    public init() {}

    public mutating func acquire(threads: Int, exclusive: Bool, maximum: Int) throws(KernelError) {
        guard threads >= 1, threads <= maximum else {
            throw .processConfiguration("threads must be between 1 and \(maximum) (this machine's CPU count), got \(threads)")
        }
        let others = live.filter { $0.key != threads && $0.value > 0 }.keys.sorted()
        let exclusiveOthers = exclusiveLive.filter { $0.key != threads && $0.value > 0 }.keys.sorted()
        if let other = (exclusive ? others : exclusiveOthers).first {
            throw .processConfiguration("an engine with \(threads) threads cannot run beside \(exclusive ? "an engine" : "a run's engine") with \(other) threads in the same process: thread counts are process-wide and change results")
        }
        live[threads, default: 0] += 1
        if exclusive { exclusiveLive[threads, default: 0] += 1 }
    }

    public mutating func release(threads: Int, exclusive: Bool) {
        live[threads, default: 1] -= 1
        if exclusive { exclusiveLive[threads, default: 1] -= 1 }
    }
}
