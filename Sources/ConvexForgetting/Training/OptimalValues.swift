/// f*_DPO, f*_SFT and f*_mix,lambda from the exact solver (`NewtonSolver`): the reference values of every
/// gap. Where an infimum is not attained, the infimum value is used (PAPER.md section 3).
public struct OptimalValues: Sendable, Equatable {
    public var lambda: Double
    public var dpo: Optimum
    public var sft: Optimum
    public var mix: Optimum

    /// Placeholder optima (value 0, not attained) for timing runs that report no gaps.
    public static func unknown(lambda: Double, dimension: Int) -> OptimalValues {
        let none = Optimum(value: 0, theta: [Double](repeating: 0, count: dimension), gradientNorm: .nan, attained: false, iterations: 0)
        return OptimalValues(lambda: lambda, dpo: none, sft: none, mix: none)
    }

    init(lambda: Double, dpo: Optimum, sft: Optimum, mix: Optimum) {
        self.lambda = lambda
        self.dpo = dpo
        self.sft = sft
        self.mix = mix
    }

    /// Throws what `NewtonSolver.minimize` throws.
    public init(problem: Problem, lambda: Double, solver: NewtonSolver = NewtonSolver()) throws {
        self.lambda = lambda
        dpo = try solver.minimize(problem, .dpo)
        sft = try solver.minimize(problem, .sft)
        mix = try solver.minimize(problem, .mix(lambda: lambda))
    }
}
