import ArgumentParser
import ConvexForgetting

/// The objectives `optimum` solves for.
enum ObjectiveChoice: String, CaseIterable, ExpressibleByArgument {
    case dpo, sft, mix
}

struct OptimumCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "optimum",
        abstract: "The exact optimum of f_DPO, f_SFT or f_mix (Newton's method; attainment decided by LP).")

    @OptionGroup var instance: InstanceOption

    @Option(help: "The objective (mix needs --lambda).")
    var objective: ObjectiveChoice

    @Option(parsing: .unconditional, help: "lambda in [0, 1] for --objective mix.")
    var lambda: Double?

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        if objective == .mix, lambda == nil { throw ValidationError("--objective mix needs --lambda") }
        if objective != .mix, lambda != nil { throw ValidationError("--lambda applies to --objective mix only") }
        try checkLambda(lambda)
    }

    func run() throws {
        let problem = try instance.load()
        let target: Objective = switch objective {
        case .dpo: .dpo
        case .sft: .sft
        case .mix: .mix(lambda: lambda!)
        }
        let optimum: Optimum
        do { optimum = try instance.memory.solver.minimize(problem, target) } catch { throw CommandFailure("\(instance.instance): \(error)") }
        if json {
            print(JSON.object([
                ("value", JSON.number(optimum.value)), ("theta", JSON.vector(optimum.theta)),
                ("gradientNorm", JSON.number(optimum.gradientNorm)), ("attained", "\(optimum.attained)"),
                ("iterations", "\(optimum.iterations)"),
            ]))
        } else {
            print("objective:     \(target)")
            print(optimum.attained ? "minimum:       \(optimum.value)" : "infimum:       \(optimum.value) (not attained: no finite minimizer)")
            print((optimum.attained ? "minimizer:     " : "last iterate:  ") + optimum.theta.map { "\($0)" }.joined(separator: ", "))
            print("gradient norm: \(optimum.gradientNorm)")
            print("iterations:    \(optimum.iterations)")
        }
    }
}
