/// f*_DPO, f*_SFT and f*_mix,lambda from the exact solver (`NewtonSolver`), and the optimum of MAXRIGHT's
/// target F_lambda (`MaxGapSolver`): the reference values of every gap. Where an infimum is not attained,
/// the infimum value is used (PAPER.md section 3).
public struct OptimalValues: Sendable, Equatable {
    public var lambda: Double
    public var dpo: Optimum
    public var sft: Optimum
    public var mix: Optimum
    /// min (or inf) over theta of max{lambda (f_DPO - f*_DPO), (1 - lambda)(f_SFT - f*_SFT)} (eq. 15).
    public var maxGap: MaxGapOptimum

    /// Placeholder optima (value 0, not attained) for timing runs that report no gaps.
    public static func unknown(lambda: Double, dimension: Int) -> OptimalValues {
        let origin = [Double](repeating: 0, count: dimension)
        let none = Optimum(value: 0, theta: origin, gradientNorm: .nan, attained: false, iterations: 0)
        let noMax = MaxGapOptimum(lambda: lambda, value: 0, theta: origin, weight: lambda, weightedGapDPO: 0, weightedGapSFT: 0,
                                  gradientNorm: .nan, attained: false, meeting: .balanced, iterations: 0)
        return OptimalValues(lambda: lambda, dpo: none, sft: none, mix: none, maxGap: noMax)
    }

    init(lambda: Double, dpo: Optimum, sft: Optimum, mix: Optimum, maxGap: MaxGapOptimum) {
        self.lambda = lambda
        self.dpo = dpo
        self.sft = sft
        self.mix = mix
        self.maxGap = maxGap
    }

    /// Throws what `NewtonSolver.minimize` throws. The max-gap optimum reuses the three optima (its search
    /// starts at the mix optimum), a handful of warm-started mix solves more.
    public init(problem: Problem, lambda: Double, solver: NewtonSolver = NewtonSolver()) throws {
        self.lambda = lambda
        dpo = try solver.minimize(problem, .dpo)
        sft = try solver.minimize(problem, .sft)
        mix = try solver.minimize(problem, .mix(lambda: lambda))
        maxGap = try MaxGapSolver(solver: solver).minimize(problem, lambda: lambda, dpo: dpo, sft: sft, mix: mix)
    }
}
