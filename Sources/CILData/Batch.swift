import CILKernels
import Dispatch
import Foundation

/// One training or evaluation batch: images as a float32 NHWC tensor, their targets
/// (learning positions when a label map is given, dataset labels otherwise) and the
/// dataset indices they came from.
public struct Batch: Sendable {
    public let images: Tensor
    public let labels: [Int]
    public let indices: [Int]
}

/// Turns dataset indices into a `Batch`. Each sample's random decisions come from
/// `RandomStream(seed, "augment", phase, epoch).substream(index)`, so a sample's pixels do
/// not depend on its batch, its position in it or the thread that made it.
public struct BatchAssembler: Sendable {
    public let source: any ImageSource
    public let preprocessing: Preprocessing
    public let seed: UInt64
    /// Dataset label → target; nil keeps dataset labels.
    public let labelMap: [Int]?

    public init(source: any ImageSource, preprocessing: Preprocessing, seed: UInt64, labelMap: [Int]? = nil) {
        self.source = source
        self.preprocessing = preprocessing
        self.seed = seed
        self.labelMap = labelMap
    }

    /// The same images, seed and labels through another view of the preprocessing (the
    /// NME means' second view, README.md G1).
    public func viewing(_ view: Preprocessing.View) -> BatchAssembler {
        BatchAssembler(source: source, preprocessing: preprocessing.viewing(view), seed: seed, labelMap: labelMap)
    }

    public func stream(phase: Int, epoch: Int, index: Int) -> RandomStream {
        RandomStream(seed: seed, purpose: "augment", phase, epoch).substream(index)
    }

    /// Assembles a batch with `threads` workers (JPEG decoding runs in them too). All
    /// images must come out the same size (always true for crops to a fixed size).
    public func assemble(indices: [Int], phase: Int, epoch: Int, threads: Int = 1) throws -> Batch {
        guard let first = indices.first else { throw DataError.invalidArgument("empty batch") }
        let (h, w, c) = try source.withImage(at: first) { view in
            let size = preprocessing.outputSize(inputHeight: view.height, inputWidth: view.width)
            return (size.height, size.width, view.channels)
        }
        let perImage = h * w * c
        let images = Tensor(uninitialized: [indices.count, h, w, c], dtype: .float32, layout: .nhwc)
        let output = SendablePointer(base: images.floatPointer)
        let errors = ErrorSlot()
        let workers = max(1, min(threads, indices.count))
        let work: @Sendable (Int) -> Void = { worker in
            for slot in stride(from: worker, to: indices.count, by: workers) {
                let index = indices[slot]
                do {
                    var rng = stream(phase: phase, epoch: epoch, index: index)
                    try source.withImage(at: index) { view in
                        let size = preprocessing.outputSize(inputHeight: view.height, inputWidth: view.width)
                        guard size.height == h, size.width == w, view.channels == c else {
                            throw DataError.invalidArgument("sample \(index) comes out \(size.height)x\(size.width)x\(view.channels), batch is \(h)x\(w)x\(c)")
                        }
                        try preprocessing.apply(view, stream: &rng, into: output.base + slot * perImage)
                    }
                } catch {
                    errors.record(slot: slot, error)
                }
            }
        }
        if workers == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: work) }
        if let error = errors.first { throw error }
        let labels = indices.map { labelMap?[source.labels[$0]] ?? source.labels[$0] }
        return Batch(images: images, labels: labels, indices: indices)
    }
}

/// The batch tensor's storage, written by workers at disjoint offsets.
struct SendablePointer: @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
}

/// The error of the lowest failing slot, so the error reported does not depend on
/// thread timing.
final class ErrorSlot: @unchecked Sendable {
    private let lock = NSLock()
    private var best: (slot: Int, error: Error)?

    func record(slot: Int, _ error: Error) {
        lock.lock(); defer { lock.unlock() }
        if best == nil || slot < best!.slot { best = (slot, error) }
    }

    var first: Error? {
        lock.lock(); defer { lock.unlock() }
        return best?.error
    }
}
