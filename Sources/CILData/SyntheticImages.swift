import CILKernels

/// Learnable stand-ins for real datasets, at any class count and size: each class has
/// its own (hue, pattern) pair, so a small CNN separates the classes within an epoch or
/// two, while per-sample phase shifts, contrast and noise keep it from being trivial.
/// Samples come from `RandomStream(seed, "synthetic-<split>", class, sample)`, so any
/// subset of a dataset can be regenerated alone.
public enum SyntheticImages {
    static let patternCount = 6

    public static func dataset(classCount: Int, perClass: Int, height: Int = 32, width: Int = 32, channels: Int = 3,
                               seed: UInt64 = 0, split: String = "train") throws -> ImageDataset {
        guard classCount > 0, perClass >= 0, height > 0, width > 0, channels == 1 || channels == 3 else {
            throw DataError.invalidArgument("synthetic dataset: bad size \(classCount) classes × \(perClass), \(height)x\(width)x\(channels)")
        }
        let imageBytes = height * width * channels
        var pixels = [UInt8](repeating: 0, count: classCount * perClass * imageBytes)
        var labels: [Int] = []
        labels.reserveCapacity(classCount * perClass)
        pixels.withUnsafeMutableBufferPointer { out in
            for c in 0..<classCount {
                for s in 0..<perClass {
                    let n = c * perClass + s
                    var rng = RandomStream(seed: seed, purpose: "synthetic-\(split)", c, s)
                    render(classIndex: c, classCount: classCount, height: height, width: width, channels: channels,
                           rng: &rng, into: out.baseAddress! + n * imageBytes)
                }
            }
        }
        for c in 0..<classCount { labels += Array(repeating: c, count: perClass) }
        return try ImageDataset(name: "synthetic-\(classCount)-\(split)", height: height, width: width, channels: channels,
                                pixels: pixels, labels: labels, classNames: (0..<classCount).map { "synthetic\($0)" })
    }

    static func render(classIndex c: Int, classCount: Int, height: Int, width: Int, channels: Int,
                       rng: inout RandomStream, into out: UnsafeMutablePointer<UInt8>) {
        let pattern = c % patternCount
        let hueSlots = max(1, (classCount + patternCount - 1) / patternCount)
        let hue = (Double(c / patternCount) + 0.5) / Double(hueSlots)
        let colour = rgb(hue: hue)
        let grey = 0.3 + 0.4 * Double(c / patternCount) / Double(hueSlots)
        let phaseX = rng.nextDouble() * 6.283, phaseY = rng.nextDouble() * 6.283
        let contrast = 0.7 + 0.3 * rng.nextDouble()
        let period = Double(max(height, width)) / 4
        for y in 0..<height {
            for x in 0..<width {
                let u = Double(x) / period * 6.283 + phaseX, v = Double(y) / period * 6.283 + phaseY
                let wave: Double
                switch pattern {
                case 0: wave = sin(u)
                case 1: wave = sin(v)
                case 2: wave = sin((u + v) * 0.7)
                case 3: wave = sin(u) * sin(v)
                case 4: wave = sin(((Double(x) - Double(width) / 2) * (Double(x) - Double(width) / 2)
                                    + (Double(y) - Double(height) / 2) * (Double(y) - Double(height) / 2)).squareRoot() / period * 6.283 + phaseX)
                default: wave = sin((u - v) * 0.7)
                }
                let intensity = 0.5 + 0.5 * contrast * wave
                let base = (y * width + x) * channels
                for ch in 0..<channels {
                    let tint = channels == 1 ? grey : colour[ch]
                    let noise = (rng.nextDouble() - 0.5) * 0.12
                    let value = min(1, max(0, tint * (0.35 + 0.65 * intensity) + noise))
                    out[base + ch] = UInt8(value * 255 + 0.5)
                }
            }
        }
    }

    static func rgb(hue: Double) -> [Double] {
        let h = hue * 6, i = Int(h) % 6, f = h - Double(Int(h))
        switch i {
        case 0: return [1, f, 0.15]
        case 1: return [1 - f, 1, 0.15]
        case 2: return [0.15, 1, f]
        case 3: return [0.15, 1 - f, 1]
        case 4: return [f, 0.15, 1]
        default: return [1, 0.15, 1 - f]
        }
    }
}

import Foundation
