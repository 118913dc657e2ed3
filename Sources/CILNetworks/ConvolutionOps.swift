/// Differentiable convolution ops over NHWC (or blocked nChw16c) activations and OIHW weights.
extension Graph {
    /// The output comes in `outputLayout`; the input may be in either activation layout, and
    /// its gradient comes back in the input's.
    public func conv2d(_ x: Var, weight w: Var, stride: Int, padding: Int, outputLayout: Layout = .nhwc) throws -> Var {
        let input = self[x], kernel = self[w]
        let out = try labelled(w) { try engine.conv2dForward(input, weight: kernel, stride: stride, padding: padding, outputLayout: outputLayout) }
        let geometry = Conv2DGeometry(input: input.shape, weight: kernel.shape, stride: stride, padding: padding)
        return record(out, inputs: [x, w]) { g, dy in
            try g.labelled(w) {
                if g.requiresGradient(x) {
                    g.accumulate(x, try g.engine.conv2dBackwardData(dy, weight: kernel, geometry: geometry, inputLayout: input.layout))
                }
                if g.requiresGradient(w) { g.accumulate(w, try g.engine.conv2dBackwardWeights(dy, input: input, geometry: geometry)) }
            }
        }
    }

    /// W ⊙ s with s [O, I, 1, 1] broadcast over each kernel window (AANets stable convs).
    public func scaleKernels(_ w: Var, scales s: Var) -> Var {
        let weight = self[w], scales = self[s]
        let out = engine.scaleKernels(weight, scales: scales)
        return record(out, inputs: [w, s]) { g, dy in
            if g.requiresGradient(s) { g.accumulate(s, g.engine.scaleKernelsBackwardScales(dy, weight: weight)) }
            if g.requiresGradient(w) { g.accumulate(w, g.engine.scaleKernels(dy, scales: scales)) }
        }
    }

    public func maxPool2d(_ x: Var, kernel: Int, stride: Int, padding: Int) throws -> Var {
        let input = self[x]
        let out = try engine.maxPool2dForward(input, kernel: kernel, stride: stride, padding: padding)
        return record(out, inputs: [x]) { g, dy in
            g.accumulate(x, try g.engine.maxPool2dBackward(dy, input: input, output: out, kernel: kernel, stride: stride, padding: padding))
        }
    }

    /// `x` with its elements moved to `layout` (NHWC or nChw16c); `x` itself if already there.
    public func reordered(_ x: Var, to layout: Layout) throws -> Var {
        let input = self[x]
        if input.layout == layout { return x }
        let out = try engine.reordered(input, to: layout)
        return record(out, inputs: [x]) { g, dy in g.accumulate(x, try g.engine.reordered(dy, to: input.layout)) }
    }

    public func globalAveragePool(_ x: Var) -> Var {
        let shape = self[x].shape
        let out = engine.globalAveragePool(self[x])
        return record(out, inputs: [x]) { g, dy in
            g.accumulate(x, g.engine.globalAveragePoolBackward(dy, inputShape: shape))
        }
    }
}
