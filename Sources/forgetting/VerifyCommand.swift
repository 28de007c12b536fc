import ArgumentParser
import ConvexForgetting
import Foundation

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Check the paper's theorems on real numbers (see THEORY.md).",
        subcommands: [Theorem33Command.self, Theorem41Command.self, VerifyMaxrightCommand.self, VerifyMutantsCommand.self])
}

/// validate() of a verify command: the library checks the parameters, and a --csv target must be writable.
func validateVerification(csv: String?, force: Bool, _ parameters: () throws -> Void) throws {
    try parameters()
    if let csv { try checkOutput(csv, force: force, flag: "--csv") }
}

func parseList<T>(_ text: String, flag: String, _ convert: (String) -> T?) throws -> [T] {
    let items = text.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
    var values: [T] = []
    for item in items {
        guard let v = convert(item) else { throw ValidationError("\(flag): '\(item)' is not valid") }
        values.append(v)
    }
    guard !values.isEmpty else { throw ValidationError("\(flag) must not be empty") }
    return values
}

struct Theorem33Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "theorem33",
        abstract: "Theorem 3.3: Sequential's G_mix stays above a floor c(lambda) for every T >= T0(lambda).",
        discussion: """
        Runs Sequential on the lower-bound instance for T_DPO = T_SFT = T over the horizons, in both orders, \
        with constant and inverse-sqrt rates and with the threshold, and prints the exact G_mix,lambda of \
        its output next to c(lambda) and T0(lambda) (THEORY.md section 2). Cells: '+' checked and above the \
        floor, 'X' checked and below it, '.' before T0. Inverse-sqrt runs are checked with both phase \
        schedules (the second phase continuing the step index, or restarting it). For every horizon it also \
        certifies an interval [L(T), U(T)] for the output's coordinate s = theta . a and a T-dependent floor \
        G(U(T)) (G(L(T)) when SFT runs first), and prints the floor's ratio to the observed gap (sharpness; \
        THEORY.md section 2.6). Exits 1 if any checked cell is below c(lambda), an output leaves its \
        interval, or a gap falls below its certified floor. Then shows ALRIGHT on the same instance driving \
        the gap far below the floor.
        """)

    static let defaultInstance = "Experiments/instances/lower-bound.json"

    @Option(help: "The lower-bound instance (default: the repository's \(Theorem33Command.defaultInstance)).")
    var instance: String?

    @Option(parsing: .unconditional, help: "Comma-separated lambdas (default 0.05, 0.10, ..., 0.95).")
    var lambdas: String?

    @Option(parsing: .unconditional, help: "Comma-separated horizons T (default 10, 30, 100, ..., 1000000).")
    var horizons: String?

    @Option(parsing: .unconditional, help: "Steps of the ALRIGHT contrast run.")
    var alrightSteps = 1_000_000

    @Option(help: ArgumentHelp("Also write the table as tidy CSV (one row per cell) for Plots/theorem33.py.", valueName: "file.csv"))
    var csv: String?

    @Flag(help: "Overwrite an existing --csv file.")
    var force = false

    @OptionGroup var memory: MemoryOption

    /// The verification these flags describe, checked by the library.
    func verification() throws -> Theorem33Verification {
        var verification = Theorem33Verification()
        verification.solver = memory.solver
        if let lambdas { verification.lambdas = try parseList(lambdas, flag: "--lambdas") { Double($0) } }
        if let horizons { verification.horizons = try parseList(horizons, flag: "--horizons") { Int($0) } }
        verification.alrightSteps = alrightSteps
        do { try verification.validate() } catch { throw flagError(error) }
        return verification
    }

    func validate() throws {
        try validateVerification(csv: csv, force: force) { _ = try verification() }
    }

    func run() throws {
        let problem = try loadProblem(instance ?? repositoryFile(Self.defaultInstance))
        let verification = try verification()
        let report: Theorem33Verification.Report
        do { report = try verification.run(problem) } catch { throw CommandFailure("\(instance ?? Self.defaultInstance): \(error)") }
        print("Theorem 3.3 on \(problem.instance.name): G_mix,lambda of Sequential's output (T_DPO = T_SFT = T); floor c and T0 from THEORY.md section 2")
        print("rates: constant \(verification.constantRate), inverse-sqrt alpha0 = \(verification.inverseSqrtRate) (second phase continuing the step index, or 'restart'), threshold \(verification.threshold), margin delta = \(verification.delta)")
        print("cells: + checked, above the floor   X checked, BELOW the floor   . before T0   E output OUTSIDE its certified envelope   C gap BELOW the certified floor\n")
        let header = ["variant", "lambda", "floor c", "T0"] + verification.horizons.map { "T=\(shortInt($0))" }
        let rows = report.rows.map { row in
            [row.variant.description, fmt(row.lambda, 2), fmt(row.floor, 4), row.horizon.isFinite ? shortInt(Int(row.horizon)) : "inf"]
                + row.cells.map { cell in
                    let mark = !cell.insideEnvelope ? "E" : !cell.aboveCertifiedFloor ? "C" : cell.checked ? (cell.aboveFloor ? "+" : "X") : "."
                    return fmt(cell.gap, 3) + mark
                }
        }
        print(formatTable(header, rows))
        print("\nThe output's margin s_out = theta . a against its certified envelope [L(T), U(T)] (Lemmas 1 and 2 per phase; THEORY.md section 2.6):\n")
        let seen = report.rows.reduce(into: [LowerBoundAnalysis.Variant]()) { if !$0.contains($1.variant) { $0.append($1.variant) } }
        print(formatTable(["variant", "quantity"] + verification.horizons.map { "T=\(shortInt($0))" }, seen.flatMap { variant -> [[String]] in
            let cells = report.rows.first { $0.variant == variant }!.cells
            return [[variant.description, "L(T)"] + cells.map { $0.envelope.map { fmt($0.low, 3) } ?? "-" },
                    ["", "s_out"] + cells.map { fmt($0.margin, 3) + ($0.insideEnvelope ? "" : " E") },
                    ["", "U(T)"] + cells.map { $0.envelope.map { fmt($0.high, 3) } ?? "-" }]
        }))
        print("\nSharpness: the certified floor G(U(T)) (G(L(T)) when SFT runs first) over the observed gap, per cell:\n")
        print(formatTable(["variant", "lambda"] + verification.horizons.map { "T=\(shortInt($0))" }, report.rows.map { row in
            [row.variant.description, fmt(row.lambda, 2)] + row.cells.map { $0.sharpness.map { fmt($0, 3) } ?? "-" }
        }))
        print("\nALRIGHT on the same instance (inverse-sqrt, alpha0 = \(verification.inverseSqrtRate), \(verification.alrightSteps) steps, seed 0):\n")
        print(formatTable(["lambda", "ALRIGHT G_mix", "smallest floor", "ratio"], report.contrast.map {
            [fmt($0.lambda, 2), fmt($0.alrightGap, 3), fmt($0.smallestFloor, 4), fmt($0.alrightGap / $0.smallestFloor, 3)]
        }))
        if let csv {
            let table = CSVTable(["variant", "lambda", "floor", "t0", "horizon", "gap_mix", "checked", "passed", "alright_gap",
                                  "s_out", "envelope_low", "envelope_high", "certified_floor", "sharpness", "inside_envelope"])
            let rows = report.rows.flatMap { row in
                let alright = report.contrast.first { $0.lambda == row.lambda }?.alrightGap
                return row.cells.map { cell in
                    [CSV.field(row.variant.description), CSV.number(row.lambda), CSV.number(row.floor),
                     CSV.number(row.horizon), "\(cell.horizon)", CSV.number(cell.gap), "\(cell.checked)",
                     "\(cell.passed)", alright.map(CSV.number) ?? "", CSV.number(cell.margin),
                     cell.envelope.map { CSV.number($0.low) } ?? "", cell.envelope.map { CSV.number($0.high) } ?? "",
                     cell.certifiedFloor.map(CSV.number) ?? "", cell.sharpness.map(CSV.number) ?? "", "\(cell.insideEnvelope)"]
                }
            }
            try writeTable(table, rows, to: csv)
        }
        let uncertified = report.uncertified.count
        print("\n\(report.checkedCells) cells checked past T0, \(report.floorFailures) below the floor c(lambda); \(report.envelopeFailures) outputs outside their envelope, \(report.certifiedFloorFailures) gaps below their certified floor; \(uncertified) of \(report.rows.count) rows certified nothing by c(lambda) (T0 beyond the horizons).")
        if report.failures > 0 { throw CommandFailure("Theorem 3.3 check failed: \(report.failedChecks.joined(separator: ", "))") }
    }
}

func shortInt(_ n: Int) -> String {
    if n >= 1_000_000, n % 1_000_000 == 0 { return "\(n / 1_000_000)M" }
    if n >= 1_000, n % 1_000 == 0 { return "\(n / 1_000)k" }
    return "\(n)"
}

struct Theorem41Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "theorem41",
        abstract: "Theorem 4.1: ALRIGHT's mean G_mix under the explicit bound, against its exact value and its asymptotic constant.",
        discussion: """
        ALRIGHT with alpha_t = alpha0 / sqrt(t), weight decay 0, over many seeds; the mean gap of theta_T (after \
        T - 1 updates) with its 95% confidence interval next to the paper-constant bound (M from Prop. A.1) and \
        the instance-tight bound (THEORY.md section 3). Three checks, each fails the command (exit 1): an \
        interval's upper end above the paper-constant bound; on one-dimensional instances (lower-bound) a \
        Monte Carlo mean more than 3 standard errors + errorBound from the exact expectation (`forgetting \
        exact`); at the largest horizon, where the start-up transient has died out (the deterministic gap and \
        the lag both below 5% of the prediction), mean / (alpha_T tr(Sigma*) / 4) outside [0.8, 1.25] \
        widened by two standard errors; other cells are reported as not yet asymptotic, never as passed. \
        Also prints the log-log slope of the mean gap beside -1/2 and checks Prop. A.1 on the recorded iterates.
        """)

    @Option(help: "Instance files (repeat the option); default: lower-bound, random-a and random-b in Experiments/instances.")
    var instance: [String] = []

    @Option(parsing: .unconditional, help: "Seeds per (instance, lambda): with 1000 the asymptotic ratio's standard error is about 0.04.")
    var seeds = Theorem41Verification().seeds

    @Option(parsing: .unconditional, help: "Seeds per lambda on one-dimensional instances (checked against the exact expectation).")
    var exactSeeds = Theorem41Verification().exactSeeds

    @Option(parsing: .unconditional, help: "Comma-separated lambdas.")
    var lambdas = "0.1,0.5,0.9"

    @Option(parsing: .unconditional, help: "Comma-separated horizons T.")
    var horizons = "10,100,1000,10000,100000,1000000"

    @Option(parsing: .unconditional, help: "alpha0 of alpha_t = alpha0 / sqrt(t).")
    var alpha0 = 0.5

    @Option(name: .customLong("init"), parsing: .unconditional, help: ArgumentHelp("theta_1 for every instance, comma-separated (default: each instance's start); every instance must have its dimension.", valueName: "t1,t2,..."))
    var start: String?

    @Option(parsing: .unconditional, help: "Threads (default: all cores); results do not depend on it.")
    var threads: Int?

    @Option(help: ArgumentHelp("Also write the cells as tidy CSV for Plots/theorem41.py.", valueName: "file.csv"))
    var csv: String?

    @Flag(help: "Overwrite an existing --csv file.")
    var force = false

    @OptionGroup var memory: MemoryOption

    /// The verification these flags describe, checked by the library.
    func verification() throws -> Theorem41Verification {
        var verification = Theorem41Verification()
        verification.solver = memory.solver
        verification.seeds = seeds
        verification.exactSeeds = exactSeeds
        verification.lambdas = try parseList(lambdas, flag: "--lambdas") { Double($0) }
        verification.horizons = try parseList(horizons, flag: "--horizons") { Int($0) }
        verification.alpha0 = alpha0
        verification.start = try start.map { try parseVector($0, flag: "--init") }
        if let threads { verification.threads = threads }
        do { try verification.validate() } catch { throw flagError(error) }
        return verification
    }

    func validate() throws {
        try validateVerification(csv: csv, force: force) { _ = try verification() }
    }

    func run() throws {
        let verification = try verification()
        LinearAlgebra.setThreadCount(1)
        let files = instance.isEmpty
            ? ["lower-bound", "random-a", "random-b"].map { repositoryFile("Experiments/instances/\($0).json") } : instance
        var rows: [Theorem41Verification.Row] = []
        for file in files {
            let problem = try loadProblem(file)
            do { rows += try verification.run(name: problem.instance.name, problem: problem) } catch let error as ArgumentError {
                throw flagError(error)
            } catch {
                throw CommandFailure("\(file): \(error)")
            }
        }
        print("Theorem 4.1: ALRIGHT, alpha_t = \(alpha0)/sqrt(t), \(seeds) seeds (\(exactSeeds) on one-dimensional instances); mean G_mix(theta_T) +- 95% half-width vs the bounds")
        print("bound(T) = (D^2/(2 alpha0) + 1.5 alpha0 M (1 + ln T)) / sqrt(T); paper M = lambda 4 beta^2 Phi^2 + (1-lambda) 4 Phi^2")
        print("exact: E[G] computed exactly (1-D instances), checked |mean - exact| <= 3 SE + error; asymptotic: alpha_T tr(Sigma*)/4 and mean/asymptotic\n")
        var table: [[String]] = []
        for row in rows {
            for cell in row.cells {
                let exact = cell.exact.map { fmt($0, 4) + " +-" + fmt(cell.exactError!, 1) } ?? "-"
                let asymptotic: String = switch cell.asymptotic {
                case .notChecked: ""
                case .notYetAsymptotic: "not yet asymptotic"
                case .passed: "ok"
                case .failed: "OUTSIDE [\(verification.asymptoticWindow.low), \(verification.asymptoticWindow.high)]"
                }
                table.append([row.instance, fmt(row.lambda, 2), shortInt(cell.horizon), fmt(cell.mean, 3), fmt(cell.halfWidth, 2),
                              fmt(cell.tightBound, 3), fmt(cell.paperBound, 3), cell.withinBound ? "ok" : "EXCEEDS",
                              exact, cell.exact == nil ? "" : (cell.matchesExact ? "ok" : "MISMATCH"),
                              fmt(cell.asymptoticGap, 3), fmt(cell.asymptoticRatio, 3), asymptotic])
            }
        }
        print(formatTable(["instance", "lambda", "T", "mean gap", "+-95%", "tight bound", "paper bound", "bound",
                           "exact E[G]", "vs exact", "asymptotic", "mean/asym", "asymptotic check"], table))
        print("")
        print(formatTable(["instance", "lambda", "seeds", "D", "paper M", "tight M", "slope", "theorem rate", "max mean/bound",
                           "det. gap/asym", "lag", "max ||g_DPO||/(2 beta Phi)", "max ||g_SFT||/(2 Phi)"], rows.map {
            [$0.instance, fmt($0.lambda, 2), "\($0.seeds)", fmt($0.distance, 4), fmt($0.paperM, 3), fmt($0.tightM, 3),
             $0.slope.isFinite ? fmt($0.slope, 3) : "n/a", "-0.5 (up to log T)", fmt($0.largestBoundRatio, 3),
             fmt($0.deterministicShare, 3), fmt($0.lag, 3), fmt($0.dpoGradientRatio, 4), fmt($0.sftGradientRatio, 4)]
        }))
        if let csv {
            let table = CSVTable(["instance", "lambda", "horizon", "mean_gap", "half_width", "tight_bound", "paper_bound",
                                  "distance", "paper_m", "tight_m", "slope", "seeds", "alpha0", "standard_error", "exact_gap",
                                  "exact_error", "exact_match", "asymptotic_gap", "asymptotic_ratio", "asymptotic_status"])
            let cells = rows.flatMap { row in
                row.cells.map { cell in
                    let status: String = switch cell.asymptotic {
                    case .notChecked: ""
                    case .notYetAsymptotic: "not_yet_asymptotic"
                    case .passed: "passed"
                    case .failed: "failed"
                    }
                    return [CSV.field(row.instance), CSV.number(row.lambda), "\(cell.horizon)", CSV.number(cell.mean),
                            CSV.number(cell.halfWidth), CSV.number(cell.tightBound), CSV.number(cell.paperBound),
                            CSV.number(row.distance), CSV.number(row.paperM), CSV.number(row.tightM),
                            row.slope.isFinite ? CSV.number(row.slope) : "", "\(row.seeds)", CSV.number(alpha0),
                            CSV.number(cell.standardError), cell.exact.map(CSV.number) ?? "", cell.exactError.map(CSV.number) ?? "",
                            cell.exact == nil ? "" : "\(cell.matchesExact)", CSV.number(cell.asymptoticGap),
                            CSV.number(cell.asymptoticRatio), status]
                }
            }
            try writeTable(table, cells, to: csv)
        }
        let verdict = Theorem41Verification.verdict(rows)
        print("\n\(rows.flatMap(\.cells).count) cells: \(verdict.exceeded) with the interval above the paper bound, \(verdict.exactMismatches) Monte Carlo means off their exact value, \(verdict.asymptoticFailures) of \(verdict.asymptoticChecked) asymptotic cells outside the window (\(verdict.notYetAsymptotic) not yet asymptotic); Prop. A.1 \(verdict.propositionA1 ? "holds" : "FAILS") on the recorded iterates.")
        if !verdict.passed { throw CommandFailure("Theorem 4.1 check failed: \(verdict.failedChecks.joined(separator: ", "))") }
    }
}
