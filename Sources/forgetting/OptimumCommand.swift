import ArgumentParser
import ConvexForgetting

/// The objectives `optimum` solves for: f_DPO, f_SFT, f_mix,lambda, and MAXRIGHT's target
/// max{lambda (f_DPO - f*_DPO), (1 - lambda)(f_SFT - f*_SFT)} (eq. 15).
enum ObjectiveChoice: String, CaseIterable, ExpressibleByArgument {
    case dpo, sft, mix, max

    var needsLambda: Bool { self == .mix || self == .max }
}

struct OptimumCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "optimum",
        abstract: "The exact optimum of f_DPO, f_SFT, f_mix or MAXRIGHT's target (Newton's method; attainment decided by LP).",
        discussion: """
        --objective max minimizes the largest weighted gap max{lambda (f_DPO - f*_DPO), (1 - lambda)(f_SFT - \
        f*_SFT)} (eq. 15, Remark 4.3), exactly: a root search on the mix weight w along the Pareto front \
        theta*(w) = argmin w f_DPO + (1 - w) f_SFT for the w where the two weighted gaps meet (THEORY.md \
        section 5). It prints the weight w, both weighted gaps and where they meet (balanced, sft-end or \
        dpo-end), besides the keys of the other objectives.
        """)

    @OptionGroup var instance: InstanceOption

    @Option(help: "The objective (mix and max need --lambda).")
    var objective: ObjectiveChoice

    @Option(parsing: .unconditional, help: "lambda in [0, 1] for --objective mix or max.")
    var lambda: Double?

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        if objective.needsLambda, lambda == nil { throw ValidationError("--objective \(objective.rawValue) needs --lambda") }
        if !objective.needsLambda, lambda != nil { throw ValidationError("--lambda applies to --objective mix or max only") }
        try checkLambda(lambda)
    }

    func run() throws {
        let problem = try instance.load()
        if objective == .max { return try runMax(problem) }
        let target: Objective = switch objective {
        case .dpo: .dpo
        case .sft: .sft
        case .mix, .max: .mix(lambda: lambda!)
        }
        let optimum: Optimum
        do { optimum = try instance.memory.solver.minimize(problem, target) } catch { throw CommandFailure("\(instance.instance): \(error)") }
        if json {
            print(JSON.object(Self.jsonFields(optimum.value, optimum.theta, optimum.gradientNorm, optimum.attained, optimum.iterations)))
        } else {
            print("objective:     \(target)")
            Self.printPoint(optimum.value, optimum.theta, attained: optimum.attained, lastLabel: "last iterate:  ")
            print("gradient norm: \(optimum.gradientNorm)")
            print("iterations:    \(optimum.iterations)")
        }
    }

    /// --objective max: the optimum of F_lambda, from the exact optima of f_DPO, f_SFT and f_mix,lambda.
    func runMax(_ problem: Problem) throws {
        let optimum: MaxGapOptimum
        do {
            let optima = try OptimalValues(problem: problem, lambda: lambda!, solver: instance.memory.solver)
            optimum = optima.maxGap
        } catch { throw CommandFailure("\(instance.instance): \(error)") }
        if json {
            print(JSON.object(Self.jsonFields(optimum.value, optimum.theta, optimum.gradientNorm, optimum.attained, optimum.iterations) + [
                ("weight", JSON.number(optimum.weight)),
                ("weightedGapDPO", JSON.number(optimum.weightedGapDPO)), ("weightedGapSFT", JSON.number(optimum.weightedGapSFT)),
                ("meeting", JSON.string(optimum.meeting.rawValue)),
            ]))
        } else {
            print("objective:     max(lambda = \(optimum.lambda)) = max{lambda (f_DPO - f*_DPO), (1 - lambda)(f_SFT - f*_SFT)}")
            Self.printPoint(optimum.value, optimum.theta, attained: optimum.attained, lastLabel: "last point:    ")
            print("weight w:      \(optimum.weight) (theta = argmin w f_DPO + (1 - w) f_SFT)")
            print("weighted gaps: DPO \(optimum.weightedGapDPO), SFT \(optimum.weightedGapSFT) (\(optimum.meeting.rawValue))")
            print("gradient norm: \(optimum.gradientNorm) (of f_mix,w at theta)")
            print("iterations:    \(optimum.iterations) (mix solves)")
        }
    }

    /// The fields both objectives' --json share, in their order: value, theta, gradientNorm, attained, iterations.
    static func jsonFields(_ value: Double, _ theta: [Double], _ gradientNorm: Double, _ attained: Bool,
                           _ iterations: Int) -> [(String, String)] {
        [("value", JSON.number(value)), ("theta", JSON.vector(theta)), ("gradientNorm", JSON.number(gradientNorm)),
         ("attained", "\(attained)"), ("iterations", "\(iterations)")]
    }

    /// The minimum (or infimum) and the point reaching it, as both objectives print them.
    static func printPoint(_ value: Double, _ theta: [Double], attained: Bool, lastLabel: String) {
        print(attained ? "minimum:       \(value)" : "infimum:       \(value) (not attained: no finite minimizer)")
        print((attained ? "minimizer:     " : lastLabel) + theta.map { "\($0)" }.joined(separator: ", "))
    }
}
