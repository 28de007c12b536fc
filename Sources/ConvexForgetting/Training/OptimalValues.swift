/// f*_DPO, f*_SFT and f*_mix,lambda from the exact solver (`NewtonSolver`): the reference values of every
/// gap. Where an infimum is not attained, the infimum value is used (PAPER.md section 3).
public struct OptimalValues: Sendable, Equatable {
    public var lambda: Double
    public var dpo: Optimum
    public var sft: Optimum
    public var mix: Optimum

    public init(problem: Problem, lambda: Double, solver: NewtonSolver = NewtonSolver()) {
        self.lambda = lambda
        dpo = solver.minimize(problem, .dpo)
        sft = solver.minimize(problem, .sft)
        mix = solver.minimize(problem, .mix(lambda: lambda))
    }
}
