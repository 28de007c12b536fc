import ArgumentParser
import ConvexForgetting

struct FrontCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "front",
        abstract: "The exact Pareto front: for a lambda grid, the minimizer of f_mix,lambda (Newton) and its f_DPO, f_SFT.")

    @OptionGroup var instance: InstanceOption

    @Option(parsing: .unconditional, help: "Number of evenly spaced lambdas in [0, 1].")
    var points = 101

    @Option(help: ArgumentHelp("Output CSV: lambda,theta_0..,f_dpo,f_sft,f_mix,attained.", valueName: "file.csv"))
    var out: String

    @Flag(help: "Overwrite an existing output file.")
    var force = false

    func validate() throws {
        guard points >= 2, points <= Limits.points else { throw ValidationError("--points must be in 2...\(Limits.points), got \(points)") }
        try checkOutput(out, force: force, flag: "--out")
    }

    func run() throws {
        let problem = try instance.load()
        let front: ParetoFront
        do { front = try ParetoFront(problem: problem, count: points, solver: instance.memory.solver) } catch {
            throw CommandFailure("\(instance.instance): \(error)")
        }
        try writeTable(ParetoFront.table(dimension: problem.dimension), front.rows, to: out)
        let unattained = front.points.filter { !$0.optimum.attained }.count
        print("wrote \(out): \(points) lambdas\(unattained > 0 ? ", \(unattained) with the minimum not attained (infimum reported)" : "")")
    }
}
