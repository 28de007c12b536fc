import ArgumentParser
import ConvexForgetting
import Foundation

/// `forgetting verify maxright`: MAXRIGHT against its own target F_lambda (eq. 15), measured only: the
/// paper has no convergence theorem for MAXRIGHT (THEORY.md section 5).
struct VerifyMaxrightCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maxright",
        abstract: "MAXRIGHT with alpha0/sqrt(t): its gap_max (to its own target, eq. 15) goes to zero (measured; no theorem).",
        discussion: """
        Runs MAXRIGHT (Algorithm 3, full batch) with alpha_t = alpha0 / sqrt(t) and prints gap_max = \
        F_lambda(theta_T) - min F_lambda, F_lambda = max{lambda (f_DPO - f*_DPO), (1 - lambda)(f_SFT - f*_SFT)}, \
        at each horizon T (iterate after T updates), gap_mix beside it for contrast, the exact optimum of \
        F_lambda and the fitted log-log rate of gap_max against T. The paper proves no rate for MAXRIGHT, \
        so the rate is measured, not checked. Exits 1 if on some (instance, lambda) the last horizon's \
        gap_max is above --tolerance or not below the gap_max of each of the first two horizons (THEORY.md \
        section 5).
        """)

    @Option(help: "Instance files (repeat the option); default: figure2, lower-bound, random-a and random-b in Experiments/instances.")
    var instance: [String] = []

    @Option(parsing: .unconditional, help: "Comma-separated lambdas in (0, 1).")
    var lambdas = "0.25,0.5,0.75"

    @Option(parsing: .unconditional, help: "Comma-separated ascending horizons T.")
    var horizons = "10,100,1000,10000,100000,1000000"

    @Option(parsing: .unconditional, help: "alpha0 of alpha_t = alpha0 / sqrt(t).")
    var alpha0 = 0.5

    @Option(parsing: .unconditional, help: "Largest gap_max allowed at the last horizon.")
    var tolerance = 1e-3

    @Option(parsing: .unconditional, help: "Threads (default: all cores); results do not depend on it.")
    var threads: Int?

    @Option(help: ArgumentHelp("Also write the cells as tidy CSV.", valueName: "file.csv"))
    var csv: String?

    @Flag(help: "Overwrite an existing --csv file.")
    var force = false

    @OptionGroup var memory: MemoryOption

    /// The verification these flags describe, checked by the library.
    func verification() throws -> MaxrightVerification {
        var verification = MaxrightVerification()
        verification.solver = memory.solver
        verification.lambdas = try parseList(lambdas, flag: "--lambdas") { Double($0) }
        verification.horizons = try parseList(horizons, flag: "--horizons") { Int($0) }
        verification.alpha0 = alpha0
        verification.tolerance = tolerance
        if let threads { verification.threads = threads }
        do { try verification.validate() } catch { throw flagError(error) }
        return verification
    }

    func validate() throws {
        try validateVerification(csv: csv, force: force) { _ = try verification() }
    }

    func run() throws {
        let verification = try verification()
        let files = instance.isEmpty
            ? ["figure2", "lower-bound", "random-a", "random-b"].map { repositoryFile("Experiments/instances/\($0).json") } : instance
        var rows: [MaxrightVerification.Row] = []
        for file in files {
            let problem = try loadProblem(file)
            try memory.check(problem, path: file)
            do { rows += try verification.run(name: problem.instance.name, problem: problem) } catch {
                throw CommandFailure("\(file): \(error)")
            }
        }
        print("MAXRIGHT, alpha_t = \(alpha0)/sqrt(t), full batch: gap_max = F_lambda(theta_T) - min F_lambda,")
        print("F_lambda = max{lambda (f_DPO - f*_DPO), (1 - lambda)(f_SFT - f*_SFT)} (eq. 15). The paper proves no convergence")
        print("rate for MAXRIGHT: the slope below is measured, not checked. Pass: last gap_max <= \(fmt(tolerance, 3)) and below")
        print("the first two horizons' gap_max. Without weight decay, the best iterate's gap_max must also stay under the")
        print("best-iterate bound derived in THEORY.md 5.3 (ours: (D^2/2 + G^2 alpha0^2 (1 + ln T)/2) / (2 alpha0 (sqrt(T+1) - 1))).\n")
        let shown = verification.horizons
        print(formatTable(["instance", "lambda", "min F", "at w", "attained"] + shown.map { "T=\(shortInt($0))" }
                          + ["gap_mix at last T", "best gap_max <= bound (last T)", "slope", "status"], rows.map { row in
            [row.instance, fmt(row.lambda, 2), fmt(row.optimum.value, 4), fmt(row.optimum.weight, 4), "\(row.optimum.attained)"]
                + row.gaps.map { fmt($0, 3) }
                + [fmt(row.mixGaps.last!, 3), bestColumn(row), row.slope.map { fmt($0, 3) } ?? "n/a", status(row)]
        }))
        if let csv {
            let table = CSVTable(["instance", "lambda", "horizon", "gap_max", "gap_mix", "max_optimum", "max_weight",
                                  "slope", "alpha0", "tolerance", "passed", "best_gap_max", "best_iterate_bound"])
            let cells = rows.flatMap { row in
                shown.indices.map { h in
                    [CSV.field(row.instance), CSV.number(row.lambda), "\(shown[h])", CSV.number(row.gaps[h]), CSV.number(row.mixGaps[h]),
                     CSV.number(row.optimum.value), CSV.number(row.optimum.weight), row.slope.map(CSV.number) ?? "",
                     CSV.number(alpha0), CSV.number(tolerance), "\(row.passed)",
                     row.bestGaps.map { CSV.number($0[h]) } ?? "", row.bounds.map { CSV.number($0[h]) } ?? ""]
                }
            }
            try writeTable(table, cells, to: csv)
        }
        let verdict = MaxrightVerification.verdict(rows)
        print("\n\(rows.count) (instance, lambda) rows, \(verdict.failures) failed.")
        if !verdict.passed { throw CommandFailure("MAXRIGHT check failed: \(verdict.failures) rows do not reach their target") }
    }

    func bestColumn(_ row: MaxrightVerification.Row) -> String {
        guard let best = row.bestGaps?.last, let bound = row.bounds?.last else { return "n/a" }
        return "\(fmt(best, 2)) <= \(fmt(bound, 2))"
    }

    func status(_ row: MaxrightVerification.Row) -> String {
        if row.passed { return "ok" }
        if !row.withinBound { return "ABOVE BOUND" }
        return row.belowTolerance ? "NOT DECREASING" : "ABOVE TOLERANCE"
    }
}
