import CILKernels

/// The preprocessing codebases use, as data: a spatial transform, an optional horizontal
/// flip, optional brightness jitter and a normalisation ([AAN] `trainer/base_trainer.py`
/// l.97-126; [POD] `inclearn/lib/data/datasets.py` l.27-92). Applying it to one
/// image draws from that image's own stream in a fixed order (crop, flip, jitter), so the
/// result depends only on (seed, phase, epoch, sample id).
public struct Preprocessing: Sendable, Hashable {
    public enum Spatial: Sendable, Hashable {
        /// Use the image as it is (CIFAR test).
        case identity
        /// torchvision RandomCrop(size, padding) with zero padding.
        case randomCrop(size: Int, padding: Int)
        /// torchvision RandomResizedCrop(size) with scale (0.08, 1) and ratio (3/4, 4/3).
        case randomResizedCrop(size: Int)
        /// Resize(shorter side to `resize`) then CenterCrop(crop).
        case resizeCenterCrop(resize: Int, crop: Int)
    }

    /// Which reference code's pipeline to reproduce.
    public enum Codebase: String, Sendable, CaseIterable {
        /// hshustc/CVPR19_Incremental_Learning.
        case lucir
        /// yaoyao-liu/class-incremental-learning (AANets); ImageNet jitter since 161c3ad.
        case aanets
        /// arthurdouillard/incremental_learning.pytorch, and POD-AANets.
        case podnet
        /// G-U-N/PyCIL (CIFAR pipeline as PODNet's).
        case pycil
    }

    public var spatial: Spatial
    public var horizontalFlip: Bool
    /// ColorJitter(brightness: b): factor uniform in [max(0, 1 − b), 1 + b].
    public var brightness: Float?
    public var normalization: Normalization
    /// A deterministic view of the stored image, applied on top of everything random: a
    /// test-time copy such as the second view of NME class means (gotcha G1).
    public var view: View

    /// Deterministic views of an image. Each acts on the stored bytes, before normalisation,
    /// as the reference code does on its uint8 HWC arrays.
    public struct View: Sendable, Hashable {
        /// Reverse the channel axis (RGB → BGR): numpy's `x[:, :, :, ::-1]` on HWC arrays,
        /// what [AAN]/[LUCIR] call the "flipped" copy (G1). Output channel c holds stored
        /// channel C−1−c and is normalised with channel c's mean and std.
        public var reversedChannels: Bool
        /// Mirror left–right (a horizontal flip that is always taken; XOR with a random flip).
        public var mirrored: Bool

        public init(reversedChannels: Bool = false, mirrored: Bool = false) {
            self.reversedChannels = reversedChannels
            self.mirrored = mirrored
        }

        public static let original = View()
        public static let channelReversed = View(reversedChannels: true)
        public static let horizontallyFlipped = View(mirrored: true)
    }

    public init(spatial: Spatial, horizontalFlip: Bool, brightness: Float?, normalization: Normalization, view: View = .original) {
        self.spatial = spatial
        self.horizontalFlip = horizontalFlip
        self.brightness = brightness
        self.normalization = normalization
        self.view = view
    }

    /// The same pipeline showing `view` of every image.
    public func viewing(_ view: View) -> Preprocessing {
        var copy = self
        copy.view = view
        return copy
    }

    public static let jitter63: Float = 63.0 / 255.0

    /// CIFAR-100 (32x32): RandomCrop(32, pad 4) + flip (+ jitter for PODNet/PyCIL) in
    /// training, nothing but normalisation at test time.
    public static func cifar(_ codebase: Codebase, train: Bool) -> Preprocessing {
        let podnetLike = codebase == .podnet || codebase == .pycil
        let norm = podnetLike ? Normalization.podnetCIFAR100 : .lucirCIFAR100
        guard train else { return Preprocessing(spatial: .identity, horizontalFlip: false, brightness: nil, normalization: norm) }
        return Preprocessing(spatial: .randomCrop(size: 32, padding: 4), horizontalFlip: true,
                             brightness: podnetLike ? jitter63 : nil, normalization: norm)
    }

    /// ImageNet (224): RandomResizedCrop(224) + flip (+ jitter except LUCIR) in training,
    /// Resize(256) + CenterCrop(224) at test time.
    public static func imageNet(_ codebase: Codebase, train: Bool) -> Preprocessing {
        guard train else { return Preprocessing(spatial: .resizeCenterCrop(resize: 256, crop: 224), horizontalFlip: false, brightness: nil, normalization: .imageNet) }
        return Preprocessing(spatial: .randomResizedCrop(size: 224), horizontalFlip: true,
                             brightness: codebase == .lucir ? nil : jitter63, normalization: .imageNet)
    }

    /// Output height and width for an input of the given size.
    public func outputSize(inputHeight h: Int, inputWidth w: Int) -> (height: Int, width: Int) {
        switch spatial {
        case .identity: return (h, w)
        case .randomCrop(let size, _), .randomResizedCrop(let size): return (size, size)
        case .resizeCenterCrop(_, let crop): return (crop, crop)
        }
    }

    /// Transforms one image into `out` (HWC float32, `outputSize` × channels).
    public func apply(_ image: ImageView, stream: inout RandomStream, into out: UnsafeMutablePointer<Float>) throws {
        let c = image.channels
        guard normalization.mean.count == c else {
            throw DataError.invalidArgument("normalisation has \(normalization.mean.count) channels, image has \(c)")
        }
        // Random decisions first, in a fixed order, whatever the spatial transform.
        var window: (y: Double, x: Double, h: Double, w: Double)?
        var cropOffset = (top: 0, left: 0)
        switch spatial {
        case .identity: break
        case .randomCrop(let size, let padding):
            let rangeY = image.height + 2 * padding - size, rangeX = image.width + 2 * padding - size
            guard rangeY >= 0, rangeX >= 0 else { throw DataError.invalidArgument("RandomCrop(\(size)) of a \(image.height)x\(image.width) image") }
            cropOffset = (stream.nextInt(below: rangeY + 1) - padding, stream.nextInt(below: rangeX + 1) - padding)
        case .randomResizedCrop:
            window = Self.randomResizedCropWindow(height: image.height, width: image.width, stream: &stream)
        case .resizeCenterCrop(let resize, let crop):
            window = Self.centerCropWindow(height: image.height, width: image.width, resize: resize, crop: crop)
        }
        // The random draw happens whatever the view, so a view never shifts later draws.
        let flip = (horizontalFlip && stream.nextFloat() < 0.5) != view.mirrored
        let reversed = view.reversedChannels
        var factor: Float = 1
        if let b = brightness { factor = max(0, 1 - b) + stream.nextFloat() * (1 + b - max(0, 1 - b)) }

        // Per-channel lookup table: byte → normalised float, jitter folded in.
        var lut = [Float](repeating: 0, count: 256 * c)
        for ch in 0..<c {
            let mean = normalization.mean[ch], std = normalization.std[ch]
            for v in 0..<256 { lut[ch * 256 + v] = (min(1, Float(v) / 255 * factor) - mean) / std }
        }
        let (oh, ow) = outputSize(inputHeight: image.height, inputWidth: image.width)
        lut.withUnsafeBufferPointer { table in
            if let window {
                Self.resample(image, window: window, outHeight: oh, outWidth: ow, flip: flip, reversedChannels: reversed, lut: table, into: out)
            } else {
                Self.copyCrop(image, top: cropOffset.top, left: cropOffset.left, outHeight: oh, outWidth: ow, flip: flip, reversedChannels: reversed, lut: table, into: out)
            }
        }
    }

    /// Integer crop with zero padding outside the image (padding bytes are 0 before
    /// normalisation, as torchvision pads the uint8 image).
    static func copyCrop(_ image: ImageView, top: Int, left: Int, outHeight: Int, outWidth: Int, flip: Bool, reversedChannels: Bool = false,
                         lut: UnsafeBufferPointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let c = image.channels, src = image.pixels.baseAddress!
        for y in 0..<outHeight {
            let sy = y + top
            let rowOut = out + y * outWidth * c
            for x in 0..<outWidth {
                let sx = (flip ? outWidth - 1 - x : x) + left
                let o = rowOut + x * c
                if sy >= 0 && sy < image.height && sx >= 0 && sx < image.width {
                    let s = src + (sy * image.width + sx) * c
                    for ch in 0..<c { o[ch] = lut[ch * 256 + Int(s[reversedChannels ? c - 1 - ch : ch])] }
                } else {
                    for ch in 0..<c { o[ch] = lut[ch * 256] }
                }
            }
        }
    }

    /// torchvision RandomResizedCrop.get_params: 10 tries at a random area and log-uniform
    /// aspect ratio, then a centre crop clamped to the ratio range.
    static func randomResizedCropWindow(height: Int, width: Int, stream: inout RandomStream) -> (y: Double, x: Double, h: Double, w: Double) {
        let area = Double(height * width)
        let logLow = log(3.0 / 4.0), logHigh = log(4.0 / 3.0)
        for _ in 0..<10 {
            let target = area * (0.08 + stream.nextDouble() * 0.92)
            let ratio = exp(logLow + stream.nextDouble() * (logHigh - logLow))
            let w = Int((target * ratio).squareRoot().rounded()), h = Int((target / ratio).squareRoot().rounded())
            if w > 0 && h > 0 && w <= width && h <= height {
                let i = stream.nextInt(below: height - h + 1), j = stream.nextInt(below: width - w + 1)
                return (Double(i), Double(j), Double(h), Double(w))
            }
        }
        let inRatio = Double(width) / Double(height)
        var w = width, h = height
        if inRatio < 3.0 / 4.0 { h = Int((Double(w) / (3.0 / 4.0)).rounded()) }
        else if inRatio > 4.0 / 3.0 { w = Int((Double(h) * (4.0 / 3.0)).rounded()) }
        return (Double((height - h) / 2), Double((width - w) / 2), Double(h), Double(w))
    }

    /// Resize(shorter side → resize) then CenterCrop(crop), as a window in source pixels.
    static func centerCropWindow(height: Int, width: Int, resize: Int, crop: Int) -> (y: Double, x: Double, h: Double, w: Double) {
        let (rh, rw) = height <= width ? (resize, resize * width / height) : (resize * height / width, resize)
        let top = Int((Double(rh - crop) / 2).rounded()), left = Int((Double(rw - crop) / 2).rounded())
        let sy = Double(height) / Double(rh), sx = Double(width) / Double(rw)
        return (Double(top) * sy, Double(left) * sx, Double(crop) * sy, Double(crop) * sx)
    }

    /// Bilinear resampling of a source window (half-pixel centres, edge clamped, no
    /// antialiasing: PIL's resize filter widens on downscaling, this does not).
    static func resample(_ image: ImageView, window: (y: Double, x: Double, h: Double, w: Double), outHeight: Int, outWidth: Int,
                         flip: Bool, reversedChannels: Bool = false, lut: UnsafeBufferPointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let c = image.channels, src = image.pixels.baseAddress!
        let scaleY = window.h / Double(outHeight), scaleX = window.w / Double(outWidth)
        var x0s = [Int](repeating: 0, count: outWidth), x1s = x0s, fxs = [Float](repeating: 0, count: outWidth)
        for x in 0..<outWidth {
            let sx = min(max(window.x + (Double(x) + 0.5) * scaleX - 0.5, 0), Double(image.width - 1))
            x0s[x] = Int(sx); x1s[x] = min(x0s[x] + 1, image.width - 1); fxs[x] = Float(sx - Double(x0s[x]))
        }
        for y in 0..<outHeight {
            let sy = min(max(window.y + (Double(y) + 0.5) * scaleY - 0.5, 0), Double(image.height - 1))
            let y0 = Int(sy), y1 = min(y0 + 1, image.height - 1), fy = Float(sy - Double(y0))
            for x in 0..<outWidth {
                let xi = flip ? outWidth - 1 - x : x
                let a = src + (y0 * image.width + x0s[xi]) * c, b = src + (y0 * image.width + x1s[xi]) * c
                let d = src + (y1 * image.width + x0s[xi]) * c, e = src + (y1 * image.width + x1s[xi]) * c
                let fx = fxs[xi], o = out + (y * outWidth + x) * c
                for ch in 0..<c {
                    let sc = reversedChannels ? c - 1 - ch : ch
                    let top = Float(a[sc]) + (Float(b[sc]) - Float(a[sc])) * fx
                    let bottom = Float(d[sc]) + (Float(e[sc]) - Float(d[sc])) * fx
                    // Round to a byte as PIL's uint8 resize does, then look it up.
                    let v = Int((top + (bottom - top) * fy).rounded())
                    o[ch] = lut[ch * 256 + min(255, max(0, v))]
                }
            }
        }
    }
}

import Foundation
