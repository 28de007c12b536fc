/// One recorded iterate of a run: a row of the trajectory CSV.
public struct TrajectoryRow: Sendable, Equatable {
    /// t: the iterate after t updates (0 = the initial point).
    public var step: Int
    /// The objective of the update that produced this iterate: dpo, sft, mix, or init for step 0.
    public var objective: String
    /// alpha_t of that update (0 for step 0).
    public var stepSize: Double
    public var theta: [Double]
    public var fDPO: Double
    public var fSFT: Double
    /// f_mix,lambda = lambda f_DPO + (1 - lambda) f_SFT.
    public var fMix: Double
    public var gapDPO: Double
    public var gapSFT: Double
    /// G_mix,lambda of eq. (6).
    public var gapMix: Double
    /// sqrt(gap_DPO^2 + gap_SFT^2): the distance to the ideal point in loss space.
    public var idealDistance: Double
    /// Cumulative gradient evaluations (a Mix step counts 2) and objective evaluations by the method.
    public var gradEvals: Int
    public var lossEvals: Int
    /// F_lambda(theta) - min F_lambda, F_lambda = max{lambda gap_DPO, (1 - lambda) gap_SFT}: the gap of
    /// MAXRIGHT's own target (eq. 15; `MaxGapOptimum`).
    public var gapMax: Double
}
