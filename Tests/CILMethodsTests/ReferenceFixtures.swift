import CILKernels
import CILNetworks
import Foundation

/// Reads the fixtures `Tests/Fixtures/reference/generate.py` writes from the official code
/// and rebuilds their inputs exactly: weights and images come from the formula the generator
/// documents (splitmix64 keyed by FNV-1a of the reference parameter name), so no weight file
/// is committed.
enum ReferenceFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/reference")

    static func load(_ file: String) throws -> [String: Any] {
        let data = try Data(contentsOf: directory.appendingPathComponent(file))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw FixtureError.malformed(file)
        }
        return object
    }

    enum FixtureError: Error { case malformed(String) }

    // MARK: The generator's formula

    static func fnv1a64(_ text: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in text.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01B3
        }
        return h
    }

    static func words(_ name: String, count: Int) -> [UInt64] {
        let key = fnv1a64(name)
        return (1...max(count, 1)).prefix(count).map { i in
            var z = key &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func values(_ name: String, count: Int, lo: Double, hi: Double) -> [Float] {
        words(name, count: count).map { w in Float(lo + (hi - lo) * (Double(w >> 40) / 16_777_216.0)) }
    }

    /// The range of each reference tensor (generate.py `value_range`).
    static func range(_ name: String, shape: [Int]) -> (Double, Double) {
        if name.hasSuffix("running_mean") { return (-0.2, 0.2) }
        if name.hasSuffix("running_var") { return (0.5, 1.5) }
        if name == "fc.sigma" { return (2.5, 2.5) }
        if name.hasPrefix("fc.") { let b = 1 / Double(shape[1]).squareRoot(); return (-b, b) }
        if shape.count == 4 { let b = (6.0 / Double(shape[1] * shape[2] * shape[3])).squareRoot(); return (-b, b) }
        if name.hasSuffix("bn2.weight") { return (0.05, 0.25) }
        if name.hasSuffix(".weight") { return (0.5, 1.5) }
        return (-0.2, 0.2)
    }

    /// uint8 HWC `size`×`size`×3 images (32 unless said), normalised as the reference's
    /// CIFAR test transform (ToTensor's /255 then Normalize's −mean, /std, all in float32), NHWC.
    /// `channelReversed`: the uint8 channels reversed before normalising, as the reference's
    /// CIFAR "flip" `[:, :, :, ::-1]` (G1).
    /// `horizontallyFlipped`: mirrored along the width (what `corrected` uses instead).
    static func images(_ name: String, count: Int, size: Int = 32, channelReversed: Bool = false, horizontallyFlipped: Bool = false) -> Tensor {
        let mean: [Float] = [0.5071, 0.4866, 0.4409], std: [Float] = [0.2009, 0.1984, 0.2023]
        let w = words(name, count: count * size * size * 3)
        let scalars = w.indices.map { i -> Float in
            let c = i % 3
            var source = channelReversed ? i - c + (2 - c) : i
            if horizontallyFlipped {
                let x = (i / 3) % size
                source += (size - 1 - 2 * x) * 3
            }
            return (Float(UInt8(w[source] >> 56)) / 255 - mean[c]) / std[c]
        }
        return Tensor(shape: [count, size, size, 3], scalars: scalars, layout: .nhwc)
    }

    static func images(_ name: String, count: Int, picking rows: [Int]) -> Tensor {
        let all = images(name, count: count).floats, size = 32 * 32 * 3
        return Tensor(shape: [rows.count, 32, 32, 3], scalars: rows.flatMap { all[($0 * size)..<(($0 + 1) * size)] }, layout: .nhwc)
    }

    static func concatenate(_ a: Tensor, _ b: Tensor) -> Tensor {
        Tensor(shape: [a.shape[0] + b.shape[0]] + Array(a.shape.dropFirst()), scalars: a.floats + b.floats, layout: a.layout)
    }

    // MARK: Names

    /// The reference (PyTorch state_dict) name of a cilbench ResNet-32 parameter, without
    /// the branch prefix: `stage2.block0.downsample.bn.gamma` → `layer2.0.downsample.1.weight`.
    static func referenceName(backbone name: String) -> String {
        var parts = name.split(separator: ".").map(String.init)
        var out: [String] = []
        var i = 0
        while i < parts.count {
            let p = parts[i]
            if p == "stem" {
                let layer = parts[i + 1]   // conv or bn
                out.append(layer == "conv" ? "conv1" : "bn1")
                i += 2
                continue
            }
            if p.hasPrefix("stage") {
                out.append("layer" + p.dropFirst(5))
                out.append(String(parts[i + 1].dropFirst(5)))   // blockN → N
                i += 2
                continue
            }
            if p == "downsample" {
                out.append("downsample")
                out.append(parts[i + 1] == "conv" ? "0" : "1")
                i += 2
                continue
            }
            switch p {
            case "gamma": out.append("weight")
            case "beta": out.append("bias")
            case "scales": out[out.count - 1] = "mtl_weight"
            default: out.append(p)
            }
            i += 1
        }
        parts = out
        return parts.joined(separator: ".")
    }

    /// Sets every backbone parameter and BN buffer of a plain ResNet-32 from the formula.
    static func fillFormula(_ resnet: ResNet) {
        for p in resnet.parameters {
            let name = referenceName(backbone: p.name)
            let (lo, hi) = range(name, shape: p.value.shape)
            p.value = Tensor(shape: p.value.shape, scalars: values(name, count: p.value.count, lo: lo, hi: hi), layout: p.value.layout)
        }
    }

    // MARK: Comparison

    struct Stats {
        let count: Int, sum: Double, sumsq: Double, indices: [Int], values: [Double]

        init(_ json: Any?) throws {
            guard let d = json as? [String: Any], let count = d["count"] as? Int, let sum = d["sum"] as? Double,
                  let sumsq = d["sumsq"] as? Double, let values = d["values"] as? [Double]
            else { throw FixtureError.malformed("stats") }
            (self.count, self.sum, self.sumsq, self.indices, self.values) = (count, sum, sumsq, Self.sampleIndices(count), values)
        }

        /// generate.py `sample_indices`: 4 entries spread over the tensor.
        static func sampleIndices(_ n: Int) -> [Int] {
            Set((0..<4).map { i in (i * n) / 4 + (i * 7919) % max(n / 4, 1) }).sorted()
        }

        /// Worst relative difference of `tensor` against these stats: the sum relative to
        /// max(|sum|, ‖x‖) (a sum of mixed signs can cancel), the sum of squares relative,
        /// each sampled entry relative to max(|x_i|, rms(x)).
        func worstRelativeError(_ tensor: Tensor) -> Double {
            let x = tensor.doubles
            guard x.count == count else { return .infinity }
            let s = x.reduce(0, +), q = x.reduce(0) { $0 + $1 * $1 }
            let norm = sumsq.squareRoot(), rms = (sumsq / Double(max(count, 1))).squareRoot()
            var worst = abs(s - sum) / max(abs(sum), norm, 1e-30)
            worst = max(worst, abs(q - sumsq) / max(sumsq, 1e-30))
            for (i, v) in zip(indices, values) { worst = max(worst, abs(x[i] - v) / max(abs(v), rms, 1e-30)) }
            return worst
        }
    }

    /// Relative difference of two scalars.
    static func relative(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(abs(b), 1e-30) }

    /// Distance in float32 units in the last place.
    static func ulps(_ a: Double, _ b: Double) -> Int {
        let x = Float(a).bitPattern, y = Float(b).bitPattern
        return Int(x > y ? x - y : y - x)
    }
}
