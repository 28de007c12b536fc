/// Algorithm 1, Sequential: the plan's first phase on one objective, then its second phase on the other
/// from the last iterate. With a threshold, a phase ends early once its objective is within the threshold
/// of its optimum (checked before each update of the phase, one loss evaluation each); the toy uses 0.05.
public struct SequentialRule: SelectionRule {
    public let first: Objective
    public let second: Objective
    public let firstSteps: Int
    public let secondSteps: Int
    public let threshold: Double?
    public let phaseSchedule: PhaseSchedule
    /// Updates taken in each phase so far.
    public private(set) var taken = (0, 0)
    private var phase = 0

    public init(_ plan: SequentialPlan) {
        first = plan.dpoFirst ? .dpo : .sft
        second = plan.dpoFirst ? .sft : .dpo
        firstSteps = plan.dpoFirst ? plan.dpoSteps : plan.sftSteps
        secondSteps = plan.dpoFirst ? plan.sftSteps : plan.dpoSteps
        threshold = plan.threshold
        phaseSchedule = plan.phaseSchedule
    }

    /// With `restart`, the second phase's k-th update uses alpha_k.
    @inline(__always)
    public func scheduleIndex(forUpdate t: Int) -> Int {
        phase == 1 && phaseSchedule == .restart ? taken.1 : t
    }

    private func optimum(_ objective: Objective, _ context: RuleContext) -> Double {
        objective == .dpo ? context.optimalDPO : context.optimalSFT
    }

    public mutating func objective(forStep t: Int, context: inout RuleContext) -> Objective? {
        if phase == 0 {
            if taken.0 < firstSteps, !reached(first, &context) {
                taken.0 += 1
                return first
            }
            phase = 1
        }
        if phase == 1 {
            if taken.1 < secondSteps, !reached(second, &context) {
                taken.1 += 1
                return second
            }
            phase = 2
        }
        return nil
    }

    private func reached(_ objective: Objective, _ context: inout RuleContext) -> Bool {
        guard let threshold else { return false }
        return context.loss(objective) - optimum(objective, context) <= threshold
    }
}
