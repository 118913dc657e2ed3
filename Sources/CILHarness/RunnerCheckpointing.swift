import CILMethods

extension Runner {
    /// The state after the last finished phase, with the tensors in parameter order.
    public func checkpoint(runFingerprint: String) throws -> (Checkpoint, [Tensor]) {
        guard let network else { throw HarnessError.mismatch("no phase has finished yet: nothing to checkpoint") }
        let parameters = network.parameters
        let saved = parameters.map {
            Checkpoint.SavedParameter(name: $0.name, shape: $0.value.shape, layout: $0.value.layout, isTrainable: $0.isTrainable, offset: 0)
        }
        let checkpoint = Checkpoint(runFingerprint: runFingerprint, finishedPhases: records.count, head: network.head.structure,
                                    dualBranch: network.backbone is AANetsBackbone, parameters: saved, memory: memory.ranked, records: records,
                                    replacedImages: imageOverrides.keys.sorted().map { Checkpoint.ReplacedImage(index: $0, pixels: imageOverrides[$0]!) },
                                    alphaGradientSum: alphaGradient.sum)
        return (checkpoint, parameters.map(\.value))
    }

    /// Continues from a checkpoint: rebuilds the network's shape (phase-0 backbone, AANets
    /// branches if they existed, the head's blocks), loads every value and trainable flag by
    /// name, and restores the memory and the finished phases' records.
    public func restore(_ checkpoint: Checkpoint, tensors: [String: Tensor], runFingerprint: String) throws {
        guard checkpoint.runFingerprint == runFingerprint else {
            throw HarnessError.mismatch("checkpoint belongs to another run (fingerprint \(checkpoint.runFingerprint), this run \(runFingerprint))")
        }
        let plain = ResNet(architecture, inputChannels: configuration.inputChannels, seed: configuration.seed)
        let backbone: any Backbone = checkpoint.dualBranch
            ? AANetsBackbone(phaseZero: plain, initialAlpha: configuration.aanets?.initialAlpha ?? 0.5) : plain
        let rebuilt = Network(backbone: backbone, head: checkpoint.head.makeHead())
        let saved = Dictionary(checkpoint.parameters.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let parameters = rebuilt.parameters
        guard parameters.count == checkpoint.parameters.count else {
            throw HarnessError.mismatch("checkpoint has \(checkpoint.parameters.count) parameters, the rebuilt network \(parameters.count)")
        }
        for p in parameters {
            guard let entry = saved[p.name], let value = tensors[p.name] else {
                throw HarnessError.mismatch("checkpoint has no parameter \(p.name)")
            }
            guard value.shape == p.value.shape else {
                throw HarnessError.mismatch("checkpoint parameter \(p.name) is \(value.shape), the network needs \(p.value.shape)")
            }
            p.value = value.reshaped(value.shape, layout: p.value.layout)
            p.isTrainable = entry.isTrainable
        }
        adopt(network: rebuilt, memory: ExemplarMemory(policy: configuration.memory, ranked: checkpoint.memory), records: checkpoint.records,
              imageOverrides: Dictionary(checkpoint.replacedImages.map { ($0.index, $0.pixels) }, uniquingKeysWith: { a, _ in a }),
              alphaGradientSum: checkpoint.alphaGradientSum)
    }
}
