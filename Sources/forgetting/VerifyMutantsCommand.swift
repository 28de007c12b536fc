import ArgumentParser
import ConvexForgetting
import Foundation

struct VerifyMutantsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mutants",
        abstract: "How strong the checks are: each deliberately wrong method must be rejected, the built-in ones must pass.",
        discussion: """
        Runs the library's catalogue of wrong methods (WrongMethods: Sequential that never moves, with swapped \
        phases, one phase only; ALRIGHT with the coin flipped, alpha0/t, a constant rate, 10 x alpha0, the DPO \
        gradient without beta, one objective only; MAXRIGHT with argmin or unweighted gaps) through the \
        verification of the method each imitates (theorem33, theorem41 with the exact expectation, maxright) \
        on reduced grids, next to the built-in methods. Prints which checks reject which method (THEORY.md \
        section 7). Exits 1 if a wrong method passes every check or a built-in one fails one.
        """)

    @Flag(help: "Smaller grids (about a third of the time).")
    var quick = false

    @Option(parsing: .unconditional, help: "Threads (default: all cores); results do not depend on it.")
    var threads: Int?

    @Option(help: ArgumentHelp("Also write the table as tidy CSV (one row per method).", valueName: "file.csv"))
    var csv: String?

    @Flag(help: "Overwrite an existing --csv file.")
    var force = false

    @OptionGroup var memory: MemoryOption

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be >= 1, got \(threads)") }
        if let csv { try checkOutput(csv, force: force, flag: "--csv") }
    }

    func run() throws {
        LinearAlgebra.setThreadCount(1)
        var verification = MutationVerification()
        verification.quick = quick
        verification.solver = memory.solver
        if let threads { verification.threads = threads }
        let instances = MutationVerification.Instances(
            lowerBound: try loadProblem(repositoryFile("Experiments/instances/lower-bound.json")),
            figure2: try loadProblem(repositoryFile(Figure2.instancePath)),
            randomA: try loadProblem(repositoryFile("Experiments/instances/random-a.json")))
        let rows: [MutationVerification.Row]
        do {
            rows = try verification.run(instances) { id in
                FileHandle.standardError.write(Data("verify mutants: \(id)\n".utf8))
            }
        } catch { throw CommandFailure("verify mutants: \(error)") }
        print("Which check rejects which method (THEORY.md section 7)\(quick ? ", quick grids" : ""): a wrong method must be rejected by at least one check, a built-in one by none\n")
        print(formatTable(["method", "mistake", "verification", "rejected by", "verdict"], rows.map { row in
            let verification = switch row.imitates {
            case .sequential: "theorem33"
            case .alright: "theorem41"
            case .maxright: "maxright"
            }
            let verdict = row.passed ? (row.isControl ? "passes (ok)" : "rejected (ok)") : (row.isControl ? "FAILS A CHECK" : "NOT REJECTED")
            return [row.id, row.mistake, verification, row.rejectedBy.isEmpty ? "-" : row.rejectedBy.joined(separator: ", "), verdict]
        }))
        if let csv {
            let table = CSVTable(["method", "imitates", "mistake", "control", "checks", "rejected_by", "passed"])
            try writeTable(table, rows.map {
                [CSV.field($0.id), $0.imitates.rawValue, CSV.field($0.mistake), "\($0.isControl)", CSV.field($0.checks.joined(separator: " ")),
                 CSV.field($0.rejectedBy.joined(separator: " ")), "\($0.passed)"]
            }, to: csv)
        }
        let failures = rows.filter { !$0.passed }
        print("\n\(rows.filter { !$0.isControl }.count) wrong methods, \(rows.filter { !$0.isControl && $0.passed }.count) rejected; \(rows.filter(\.isControl).count) built-in methods, \(rows.filter { $0.isControl && $0.passed }.count) pass every check.")
        if !failures.isEmpty { throw CommandFailure("verify mutants failed: \(failures.map(\.id).joined(separator: ", "))") }
    }
}
