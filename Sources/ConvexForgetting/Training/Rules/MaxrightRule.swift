/// Algorithm 3, MAXRIGHT: evaluate both objectives at the current iterate and step on the one whose
/// weighted gap, lambda (f_DPO - f*_DPO) or (1 - lambda)(f_SFT - f*_SFT) (eq. 15-17), is larger; ties go
/// to DPO. Two loss evaluations per step.
public struct MaxrightRule: SelectionRule {
    public init() {}

    public mutating func objective(forStep t: Int, context: inout RuleContext) -> Objective? {
        let gaps = context.weightedGaps(dpo: context.loss(.dpo), sft: context.loss(.sft))
        return gaps.dpo >= gaps.sft ? .dpo : .sft
    }
}
