import ConvexForgetting

/// Deliberately wrong methods, written as rules through the public plug-in path (README "Adding a
/// method"), for the checks that must reject them (mutation testing: a check earns trust when wrong code
/// fails it). Each names the mistake it makes; `Mutants` hands them out as `MethodUnderTest`s.

/// MAXRIGHT with argmin for argmax: steps on the objective whose weighted gap is the SMALLER one (ties to
/// DPO), so the worse objective is never improved.
struct ArgminMaxrightRule: SelectionRule {
    mutating func objective(forStep t: Int, context: inout RuleContext) -> Objective? {
        let gaps = context.weightedGaps(dpo: context.loss(.dpo), sft: context.loss(.sft))
        return gaps.dpo <= gaps.sft ? .dpo : .sft
    }
}

/// MAXRIGHT without the weights: compares the plain gaps f_DPO - f*_DPO and f_SFT - f*_SFT, so it aims at
/// the lambda = 1/2 point whatever lambda is (right only at lambda = 1/2).
struct UnweightedMaxrightRule: SelectionRule {
    mutating func objective(forStep t: Int, context: inout RuleContext) -> Objective? {
        let dpo = context.loss(.dpo) - context.optimalDPO
        let sft = context.loss(.sft) - context.optimalSFT
        return dpo >= sft ? .dpo : .sft
    }
}

enum Mutants {
    static let argminMaxright = MethodUnderTest.rule("maxright-argmin") { _ in ArgminMaxrightRule() }
    static let unweightedMaxright = MethodUnderTest.rule("maxright-unweighted") { _ in UnweightedMaxrightRule() }
    /// The built-in MAXRIGHT's rule through the same path (the control: it must pass).
    static let maxrightThroughRulePath = MethodUnderTest.rule("maxright-rule") { _ in MaxrightRule() }
}
