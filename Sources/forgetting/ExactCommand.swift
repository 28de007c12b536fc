import ArgumentParser
import ConvexForgetting
import Foundation

struct ExactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exact",
        abstract: "E[G_mix,lambda(theta_T)] computed exactly (not sampled) on a one-dimensional instance.",
        discussion: """
        When every DPO difference and SFT feature difference of the instance lies on one line (the \
        lower-bound construction, for one), every method is a Markov chain on the scalar s = theta . u, and \
        the law of s after T - 1 updates is propagated exactly, or on a refined grid once it has too many \
        atoms (THEORY.md section 6). horizon T means theta_T, the iterate after T - 1 updates of one run of \
        the method (the indexing of `verify theorem41`); the run has max(horizons) - 1 updates, Sequential's \
        phases that many each unless --dpo-steps/--sft-steps say otherwise. errorBound is a two-grid \
        estimate of the discretisation error plus a bound on the mass dropped from the tails, at most 1e-3 \
        relative; deterministic runs (full-batch Sequential, Mix, MAXRIGHT) give 0. --json prints \
        {"rows": [{"horizon": T, "expectedGap": x, "errorBound": e}, ...]}.
        """)

    @OptionGroup var instance: InstanceOption

    /// The method and its parameters (maxright-stale is refused: not a Markov chain on s).
    @OptionGroup var options: MethodOptions

    @Option(parsing: .unconditional, help: "Comma-separated horizons T, ascending (theta_T: after T - 1 updates).")
    var horizons: String

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func parsedHorizons() throws -> [Int] {
        let values = try parseList(horizons, flag: "--horizons") { Int($0) }
        guard values.allSatisfy({ $0 >= 1 && $0 <= Limits.exactHorizon }), zip(values, values.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw ValidationError("--horizons must be ascending and in 1...\(Limits.exactHorizon)")
        }
        return values
    }

    /// One run of max(horizons) - 1 updates (at least 1), recording only its end.
    func spec(for problem: Problem? = nil) throws -> RunSpec {
        try options.spec(steps: max(1, try parsedHorizons().last! - 1), record: .final, for: problem)
    }

    func validate() throws {
        _ = try spec()
    }

    func run() throws {
        let problem = try instance.load()
        let spec = try spec(for: problem)
        let optima = try solveOptima(problem, lambda: spec.lambda, instance: instance.instance, solver: instance.memory.solver)
        guard optima.mix.attained else {
            throw CommandFailure("\(instance.instance): the minimum of f_mix at lambda = \(spec.lambda) is not attained, so G_mix is not defined")
        }
        let rows: [ExactExpectation.Row]
        do {
            rows = try ExactExpectation(problem: problem, spec: spec, optima: optima).run(horizons: try parsedHorizons())
        } catch {
            throw CommandFailure("\(instance.instance): \(error)")
        }
        if json {
            print(JSON.object([("rows", "[" + rows.map {
                JSON.object([("horizon", "\($0.horizon)"), ("expectedGap", JSON.number($0.expectedGap)),
                             ("errorBound", JSON.number($0.errorBound))])
            }.joined(separator: ",") + "]")]))
        } else {
            print("exact E[G_mix,lambda(theta_T)] of \(spec.method.name.rawValue), lambda = \(spec.lambda), \(spec.schedule)\(spec.batch.map { ", batch \($0)" } ?? "") on \(problem.instance.name)\n")
            print(formatTable(["T", "expected gap", "error bound", "atoms"], rows.map {
                [shortInt($0.horizon), fmt($0.expectedGap, 9), fmt($0.errorBound, 3), "\($0.atoms)"]
            }))
        }
    }
}
