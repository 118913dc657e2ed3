import ArgumentParser
import CILNetworks

/// `cilbench train-digest`: a few SGD steps of ResNet-32 (or the AANets dual-branch
/// network) on seeded random data, then the parameter digest. Two processes given the same
/// arguments must print the same digest; that is what makes a digest in a results bundle
/// checkable on another run or machine of the same kind.
struct TrainDigestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-digest",
        abstract: "Train a few SGD steps on seeded random data and print the parameter digest (a determinism check).",
        discussion: """
            The digest is bitwise reproducible for a fixed thread count. It may change with \
            --threads, because oneDNN's backward-weights reduction order depends on the number \
            of threads.
            """)

    @Option(help: "SGD steps.") var steps = 3
    @Option(parsing: .unconditional, help: "Threads for oneDNN and OpenBLAS, 1 to the CPU count.") var threads = 2
    @Option(help: "Batch size.") var batch = 32
    @Option(help: "Seed of the initialisation and the data.") var seed: UInt64 = 0
    @Flag(help: "Train the AANets dual-branch network built from the initial ResNet-32.") var aanets = false

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1") }
        guard threads >= 1, threads <= ComputeEngine.maximumThreads else {
            throw ValidationError("--threads must be between 1 and \(ComputeEngine.maximumThreads) (this machine's CPU count), got \(threads)")
        }
        guard batch >= 2 else { throw ValidationError("--batch must be at least 2 (batch norm needs two samples)") }
    }

    func run() throws {
        let engine = try ComputeEngine(threads: threads)
        let classes = 10
        let base = ResNet(.resnet32, seed: seed)
        let backbone: any Backbone = aanets ? AANetsBackbone(phaseZero: base) : base
        let network = Network(backbone: backbone, head: CosineLinearHead(featureDimension: base.featureDimension, classes: classes, seed: seed))
        var optimizer = SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 5e-4)
        for step in 0..<steps {
            // One stream per step: the data of step k does not depend on how many came before.
            var stream = RandomStream(seed: seed, purpose: "train-digest.data", step)
            let pixels = batch * 32 * 32 * 3
            let images = Tensor(shape: [batch, 32, 32, 3], scalars: (0..<pixels).map { _ in Float(stream.nextNormal()) }, layout: .nhwc)
            let labels = (0..<batch).map { _ in Int32(stream.nextInt(below: classes)) }
            let g = Graph(engine: engine)
            let out = try network.forward(g, images: g.constant(images), mode: .training)
            try g.backward(from: g.crossEntropy(out.logits, labels: labels))
            optimizer.step(network.parameters)
        }
        print(Digest.hex(parameterDigest(network.parameters)))
    }
}
