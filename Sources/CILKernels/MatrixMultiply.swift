import CBLAS
import Foundation

/// OpenBLAS's thread count is one process-wide setting and sgemm's last bits depend on it.
/// Engines of different thread counts may live side by side (tests do this), so each sgemm
/// sets the count it needs and runs under one lock; in a run, with one engine, the lock is
/// never contended and the count never changes.
enum OpenBLASThreads {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var current = 0

    static func withCount<R>(_ threads: Int, _ body: () -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        if current != threads {
            openblas_set_num_threads(Int32(threads))
            current = threads
        }
        return body()
    }
}

extension ComputeEngine {
    /// C = op(A) · op(B) for 2-d tensors, op = transpose when asked. Fast path: OpenBLAS
    /// sgemm (bitwise reproducible at a fixed thread count, which the engine pins).
    public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.rank == 2 && b.rank == 2 && a.dtype == b.dtype, "matmul needs two 2-d tensors of one dtype")
        let m = transposeA ? a.shape[1] : a.shape[0]
        let k = transposeA ? a.shape[0] : a.shape[1]
        let kb = transposeB ? b.shape[1] : b.shape[0]
        let n = transposeB ? b.shape[0] : b.shape[1]
        precondition(k == kb, "matmul inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")
        let c = Tensor(zeros: [m, n], dtype: a.dtype)
        if usesReference(a.dtype) {
            switch a.dtype {
            case .float32: Reference.matmul(Float.self, a, b, c, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB)
            case .float64: Reference.matmul(Double.self, a, b, c, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB)
            }
        } else if m > 0 && n > 0 && k > 0 {
            OpenBLASThreads.withCount(threads) {
                cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                            Int32(m), Int32(n), Int32(k), 1, a.floatPointer, Int32(a.shape[1]),
                            b.floatPointer, Int32(b.shape[1]), 0, c.floatPointer, Int32(n))
            }
        }
        record("matmul", inputs: [a, b], output: c, attributes: ["transposeA": transposeA ? 1 : 0, "transposeB": transposeB ? 1 : 0])
        return c
    }
}

extension Reference {
    static func matmul<T: KernelScalar>(_: T.Type, _ a: Tensor, _ b: Tensor, _ c: Tensor, m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool) {
        let pa = a.scalars(T.self), pb = b.scalars(T.self), pc = c.mutableScalars(T.self)
        let lda = a.shape[1], ldb = b.shape[1]
        for i in 0..<m {
            for j in 0..<n {
                var acc: T = 0
                for p in 0..<k {
                    let av = transposeA ? pa[p * lda + i] : pa[i * lda + p]
                    let bv = transposeB ? pb[j * ldb + p] : pb[p * ldb + j]
                    acc += av * bv
                }
                pc[i * n + j] = acc
            }
        }
    }
}
