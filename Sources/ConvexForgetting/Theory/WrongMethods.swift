import Foundation

/// Deliberately wrong methods: the catalogue the checks are shown to reject (THEORY.md section 7,
/// `forgetting verify mutants`). Each is injected exactly as a user's method would be, through
/// `MethodUnderTest`: a `SelectionRule` run by the shared loop, or, for a kernel mistake, a runner that
/// replaces the loop. A verification that passes one of these cannot tell it from the real method.
public struct WrongMethod: Sendable {
    /// Which method it imitates (and so which verification runs it).
    public enum Imitates: String, Sendable {
        case sequential, alright, maxright
    }

    public let id: String
    public let imitates: Imitates
    /// What is wrong, in words.
    public let mistake: String
    public let method: MethodUnderTest

    public init(id: String, imitates: Imitates, mistake: String, method: MethodUnderTest) {
        self.id = id
        self.imitates = imitates
        self.mistake = mistake
        self.method = method
    }
}

/// Sequential that never moves.
public struct FrozenRule: SelectionRule {
    public init() {}
    public mutating func objective(forStep t: Int, context: inout RuleContext) -> Objective? { nil }
}

/// Only one of Sequential's phases: `objective` for `steps` updates, then stop.
public struct OnePhaseRule: SelectionRule {
    public let objective: Objective
    public let steps: Int
    public init(objective: Objective, steps: Int) {
        self.objective = objective
        self.steps = steps
    }
    public mutating func objective(forStep t: Int, context: inout RuleContext) -> Objective? { t <= steps ? objective : nil }
}

/// Every update on one objective.
public struct OneObjectiveRule: SelectionRule {
    public let objective: Objective
    public init(_ objective: Objective) { self.objective = objective }
    public mutating func objective(forStep t: Int, context: inout RuleContext) -> Objective? { objective }
}

/// ALRIGHT whose coin picks DPO with probability 1 - lambda.
public struct FlippedCoinRule: SelectionRule {
    public init() {}
    public mutating func objective(forStep t: Int, context: inout RuleContext) -> Objective? {
        context.coins.bernoulli(1 - context.lambda) ? .dpo : .sft
    }
}

/// ALRIGHT with alpha0 / t under an inverse-sqrt schedule: the schedule read at t^2.
public struct InverseTimeAlrightRule: SelectionRule {
    public init() {}
    public mutating func objective(forStep t: Int, context: inout RuleContext) -> Objective? {
        context.coins.bernoulli(context.lambda) ? .dpo : .sft
    }
    public func scheduleIndex(forUpdate t: Int) -> Int { t.multipliedReportingOverflow(by: t).overflow ? Int.max : t * t }
}

/// MAXRIGHT with argmin for argmax: steps on the objective whose weighted gap is the smaller one (ties to
/// DPO), so the worse objective is never improved.
public struct ArgminMaxrightRule: SelectionRule {
    public init() {}
    public mutating func objective(forStep t: Int, context: inout RuleContext) -> Objective? {
        let gaps = context.weightedGaps(dpo: context.loss(.dpo), sft: context.loss(.sft))
        return gaps.dpo <= gaps.sft ? .dpo : .sft
    }
}

/// MAXRIGHT without the weights: compares the plain gaps f_DPO - f*_DPO and f_SFT - f*_SFT, so it aims at
/// the lambda = 1/2 point whatever lambda is (right only at lambda = 1/2).
public struct UnweightedMaxrightRule: SelectionRule {
    public init() {}
    public mutating func objective(forStep t: Int, context: inout RuleContext) -> Objective? {
        let dpo = context.loss(.dpo) - context.optimalDPO
        let sft = context.loss(.sft) - context.optimalSFT
        return dpo >= sft ? .dpo : .sft
    }
}

public enum WrongMethods {
    static func plan(_ spec: RunSpec) -> SequentialPlan {
        guard case .sequential(let plan) = spec.method else {
            return SequentialPlan(dpoFirst: true, dpoSteps: spec.steps, sftSteps: spec.steps)
        }
        return plan
    }

    public static let sequential: [WrongMethod] = [
        WrongMethod(id: "sequential-frozen", imitates: .sequential, mistake: "Sequential: no move at all",
                    method: .rule("sequential-frozen") { _ in FrozenRule() }),
        WrongMethod(id: "sequential-swapped", imitates: .sequential, mistake: "Sequential: phases swapped",
                    method: .rule("sequential-swapped") { spec in
                        var p = plan(spec)
                        p.dpoFirst.toggle()
                        return SequentialRule(p)
                    }),
        WrongMethod(id: "sequential-dpo-only", imitates: .sequential, mistake: "Sequential: DPO phase only",
                    method: .rule("sequential-dpo-only") { spec in OnePhaseRule(objective: .dpo, steps: plan(spec).dpoSteps) }),
        WrongMethod(id: "sequential-sft-only", imitates: .sequential, mistake: "Sequential: SFT phase only",
                    method: .rule("sequential-sft-only") { spec in OnePhaseRule(objective: .sft, steps: plan(spec).sftSteps) }),
    ]

    /// ALRIGHT run with a changed schedule.
    static func alright(_ id: String, _ mistake: String, schedule: @escaping @Sendable (StepSchedule) -> StepSchedule) -> WrongMethod {
        WrongMethod(id: id, imitates: .alright, mistake: mistake, method: MethodUnderTest(name: id) { trainer, spec, record in
            var changed = spec
            changed.schedule = schedule(spec.schedule)
            return trainer.run(AlrightRule(), changed, record: record)
        })
    }

    /// A kernel mistake: ALRIGHT's own loop with the DPO gradient missing its factor beta,
    /// -sigma(-z) dphi instead of -beta sigma(-z) dphi (a runner that replaces the shared loop).
    public static let dpoGradientWithoutBeta = WrongMethod(
        id: "alright-dpo-without-beta", imitates: .alright, mistake: "ALRIGHT: DPO gradient without beta",
        method: MethodUnderTest(name: "alright-dpo-without-beta") { trainer, spec, record in
            let problem = trainer.problem
            var theta = spec.start ?? problem.defaultStart
            var coins = Xoshiro256StarStar(seed: spec.seed, stream: 1)
            func row(_ t: Int, _ objective: String, _ alpha: Double) -> TrajectoryRow {
                theta.withUnsafeBufferPointer {
                    trainer.row(step: t, objective: objective, stepSize: alpha, theta: $0, lambda: spec.lambda, gradEvals: t, lossEvals: 0)
                }
            }
            var last = row(0, "init", 0)
            if spec.record.nextStep(after: -1) == 0 { record(last) }
            var next = spec.record.nextStep(after: 0)
            for t in stride(from: 1, through: spec.steps, by: 1) {
                let objective: Objective = coins.bernoulli(spec.lambda) ? .dpo : .sft
                var g = problem.gradient(objective, at: theta)
                if objective == .dpo { g = g.map { $0 / problem.beta } }
                let alpha = spec.schedule.stepSize(t)
                theta = zip(theta, g).map { $0 - alpha * $1 }
                if t == next || t == spec.steps {
                    last = row(t, objective.name, alpha)
                    record(last)
                    next = spec.record.nextStep(after: t)
                }
            }
            return RunResult(final: last, steps: spec.steps, gradEvals: spec.steps, lossEvals: 0, divergedAt: nil)
        })

    public static let alright: [WrongMethod] = [
        WrongMethod(id: "alright-flipped-coin", imitates: .alright, mistake: "ALRIGHT: coin with 1 - lambda",
                    method: .rule("alright-flipped-coin") { _ in FlippedCoinRule() }),
        WrongMethod(id: "alright-inverse-time", imitates: .alright, mistake: "ALRIGHT: alpha0 / t",
                    method: .rule("alright-inverse-time") { _ in InverseTimeAlrightRule() }),
        alright("alright-constant-rate", "ALRIGHT: constant alpha0") { .constant($0.baseRate) },
        alright("alright-ten-times-rate", "ALRIGHT: 10 x alpha0") { .inverseSqrt(10 * $0.baseRate) },
        dpoGradientWithoutBeta,
        WrongMethod(id: "alright-dpo-only", imitates: .alright, mistake: "ALRIGHT: DPO only",
                    method: .rule("alright-dpo-only") { _ in OneObjectiveRule(.dpo) }),
        WrongMethod(id: "alright-sft-only", imitates: .alright, mistake: "ALRIGHT: SFT only",
                    method: .rule("alright-sft-only") { _ in OneObjectiveRule(.sft) }),
    ]

    public static let maxright: [WrongMethod] = [
        WrongMethod(id: "maxright-argmin", imitates: .maxright, mistake: "MAXRIGHT: argmin instead of argmax",
                    method: .rule("maxright-argmin") { _ in ArgminMaxrightRule() }),
        WrongMethod(id: "maxright-unweighted", imitates: .maxright, mistake: "MAXRIGHT: unweighted gaps",
                    method: .rule("maxright-unweighted") { _ in UnweightedMaxrightRule() }),
    ]

    public static var all: [WrongMethod] { sequential + alright + maxright }
}
