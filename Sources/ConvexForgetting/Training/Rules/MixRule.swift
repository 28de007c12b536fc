/// The Mix baseline: every update steps on grad f_mix,lambda = lambda grad f_DPO + (1 - lambda) grad f_SFT
/// (two gradient evaluations per step: the expensive baseline).
public struct MixRule: SelectionRule {
    public init() {}

    public mutating func objective(forStep t: Int, context: inout RuleContext) -> Objective? {
        .mix(lambda: context.lambda)
    }
}
