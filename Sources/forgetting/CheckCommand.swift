import ArgumentParser
import ConvexForgetting

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check the paper's claims (exact derivatives, Prop. A.1, Prop. A.2, convexity) on random points.",
        discussion: "Prints the worst case per claim over f_DPO, f_SFT and f_mix; exits 1 if any claim fails.")

    @OptionGroup var instance: InstanceOption

    @Option(parsing: .unconditional, help: "Number of random points.")
    var points = 20

    @Option(parsing: .unconditional, help: "Seed of the random points.")
    var seed: UInt64 = 0

    @Option(parsing: .unconditional, help: "lambda of the mix objective checked.")
    var lambda = 0.5

    func validate() throws {
        guard points >= 2, points <= Limits.points else { throw ValidationError("--points must be in 2...\(Limits.points), got \(points)") }
        try checkLambda(lambda)
    }

    func run() throws {
        let problem = try instance.load(dense: true)
        let results: [ClaimResult]
        do { results = try ClaimChecks(points: points, seed: seed, lambda: lambda).run(problem) } catch {
            throw CommandFailure("\(instance.instance): \(error)")
        }
        let rows = results.map {
            [$0.claim, $0.source, fmt($0.worst, 8), "\($0.comparison) \(fmt($0.limit, 8))", $0.passed ? "ok" : "FAIL", $0.location]
        }
        print("instance \(problem.instance.name): d = \(problem.dimension), \(problem.dpo.count) DPO and \(problem.sft.count) SFT data, \(points) points, seed \(seed)\n")
        print(formatTable(["claim", "source", "worst", "limit", "status", "worst at"], rows))
        let failed = results.filter { !$0.passed }
        if !failed.isEmpty {
            throw CommandFailure("\(failed.count) of \(results.count) claims failed")
        }
        print("\nall \(results.count) claims hold")
    }
}
