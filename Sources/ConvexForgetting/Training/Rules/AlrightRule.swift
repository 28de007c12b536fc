/// Algorithm 2, ALRIGHT: draw i_t ~ Bernoulli(lambda); a DPO step (eq. 12) if i_t = 1, else an SFT step
/// (eq. 13). In expectation this is a step on f_mix,lambda (eq. 10-11). The draw is
/// `context.coins.bernoulli(lambda)`: uniform() < lambda from the run's coin stream.
public struct AlrightRule: SelectionRule {
    public init() {}

    @inline(__always)
    public mutating func objective(forStep t: Int, context: inout RuleContext) -> Objective? {
        context.coins.bernoulli(context.lambda) ? .dpo : .sft
    }
}
