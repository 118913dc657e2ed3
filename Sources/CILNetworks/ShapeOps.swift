/// Differentiable ops that move or pad elements without arithmetic.
extension Graph {
    /// PODNet's option-A shortcut: x[..., ::s, ::s] followed by zero channels up to
    /// `outChannels`. Only the input's shape is kept for the backward, not its values.
    public func subsampleAndPadChannels(_ x: Var, stride: Int = 2, outChannels: Int) -> Var {
        let inputShape = self[x].shape
        return record(engine.subsampleAndPadChannels(self[x], stride: stride, outChannels: outChannels), inputs: [x]) { g, dy in
            g.accumulate(x, g.engine.subsampleAndPadChannelsBackward(dy, inputShape: inputShape, stride: stride))
        }
    }
}
