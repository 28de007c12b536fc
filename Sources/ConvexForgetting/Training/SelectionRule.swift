/// What a method is: the rule that picks the objective of update t. The paper's methods differ only here
/// (plus the step-size schedule); `Trainer` owns the shared loop.
public protocol SelectionRule {
    /// The objective of update t (1-based), or nil when the method has finished before t.
    /// May evaluate losses at the current iterate through `context` (counted as loss evaluations).
    mutating func objective(forStep t: Int, context: inout RuleContext) -> Objective?

    /// Called after update t with the loss of the objective just stepped on, at the pre-update iterate
    /// (computed with the gradient, so free). Only memory-efficient MAXRIGHT uses it.
    mutating func didStep(on objective: Objective, lossBefore: Double, context: RuleContext)

    /// Whether `didStep` reads `lossBefore`; when false the loop skips computing the loss (a logarithm per datum).
    static var usesLossBefore: Bool { get }

    /// The index k of alpha_k for update t, asked right after `objective(forStep: t)`: t itself, except
    /// for Sequential's second phase with `PhaseSchedule.restart`.
    func scheduleIndex(forUpdate t: Int) -> Int
}

extension SelectionRule {
    public static var usesLossBefore: Bool { false }

    @inline(__always)
    public mutating func didStep(on objective: Objective, lossBefore: Double, context: RuleContext) {}

    @inline(__always)
    public func scheduleIndex(forUpdate t: Int) -> Int { t }
}

/// What a rule may look at: the trade-off lambda, the optimal values, a random stream of its own, and
/// the losses at the current iterate.
public struct RuleContext {
    /// The problem's pointer view (valid during the run).
    public let kernel: Problem.Kernel
    public let lambda: Double
    /// f*_DPO and f*_SFT (infima where not attained).
    public let optimalDPO: Double
    public let optimalSFT: Double
    /// The rule's own random stream (ALRIGHT's coin flips).
    public var coins: Xoshiro256StarStar
    /// Objective evaluations made by the rule so far (each f_DPO or f_SFT at one iterate counts 1).
    public internal(set) var lossEvaluations = 0
    var theta: UnsafePointer<Double>

    /// f_DPO or f_SFT (with weight decay) at the current iterate.
    public mutating func loss(_ objective: Objective) -> Double {
        lossEvaluations += 1
        return kernel.evaluate(objective, theta, gradient: nil)
    }

    /// The weighted gaps lambda (f_DPO - f*_DPO) and (1 - lambda)(f_SFT - f*_SFT) of eq. (15-17) from
    /// the two losses.
    public func weightedGaps(dpo: Double, sft: Double) -> (dpo: Double, sft: Double) {
        (lambda * (dpo - optimalDPO), (1 - lambda) * (sft - optimalSFT))
    }
}
