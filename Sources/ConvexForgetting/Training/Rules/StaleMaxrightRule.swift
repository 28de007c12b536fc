/// Memory-efficient MAXRIGHT (Section 4.2, Appendix C, eq. 18-19): both objectives are evaluated only at
/// updates 1, k + 1, 2k + 1, ...; in between the rule takes the argmax of the stored weighted gaps (ties to
/// DPO), and after each update refreshes the stored gap of the objective just updated with its loss at the
/// pre-update iterate (computed with the gradient). k = 1 is plain MAXRIGHT.
public struct StaleMaxrightRule: SelectionRule {
    public let evalEvery: Int
    private var storedDPO = 0.0
    private var storedSFT = 0.0

    /// k >= 1 (`Method.validate` checks it; a smaller k counts as 1).
    public init(evalEvery: Int) {
        self.evalEvery = max(1, evalEvery)
    }

    public mutating func objective(forStep t: Int, context: inout RuleContext) -> Objective? {
        if (t - 1) % evalEvery == 0 {
            (storedDPO, storedSFT) = context.weightedGaps(dpo: context.loss(.dpo), sft: context.loss(.sft))
        }
        return storedDPO >= storedSFT ? .dpo : .sft
    }

    public static var usesLossBefore: Bool { true }

    public mutating func didStep(on objective: Objective, lossBefore: Double, context: RuleContext) {
        let gaps = context.weightedGaps(dpo: lossBefore, sft: lossBefore)
        if objective == .dpo { storedDPO = gaps.dpo } else { storedSFT = gaps.sft }
    }
}
