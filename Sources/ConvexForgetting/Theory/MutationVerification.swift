import Foundation

/// The checks' own check (THEORY.md section 7): every wrong method of `WrongMethods` is run through the
/// verification of the method it imitates, on grids reduced to where the checks are sharp, and must be
/// rejected by at least one check; the built-in methods, run the same way, must pass every check.
public struct MutationVerification: Sendable {
    /// Smaller grids (about a third of the time).
    public var quick = false
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    public var solver = NewtonSolver()

    public init() {}

    public struct Row: Sendable {
        public var id: String
        public var imitates: WrongMethod.Imitates
        public var mistake: String
        /// The built-in method (which must pass) rather than a wrong one (which must be rejected).
        public var isControl: Bool
        /// The checks run, and those that rejected the method.
        public var checks: [String]
        public var rejectedBy: [String]
        public var passed: Bool { isControl ? rejectedBy.isEmpty : !rejectedBy.isEmpty }
    }

    /// The instances: the lower-bound construction (Theorems 3.3 and 4.1) and two where MAXRIGHT converges
    /// quickly (Figure 2's and random-a).
    public struct Instances: Sendable {
        public var lowerBound: Problem
        public var figure2: Problem
        public var randomA: Problem

        public init(lowerBound: Problem, figure2: Problem, randomA: Problem) {
            self.lowerBound = lowerBound
            self.figure2 = figure2
            self.randomA = randomA
        }
    }

    func theorem33(_ method: MethodUnderTest, _ instances: Instances) throws -> [String] {
        var v = Theorem33Verification()
        v.lambdas = quick ? [0.3, 0.7] : [0.1, 0.3, 0.5, 0.7, 0.9]
        v.horizons = quick ? [100, 3_000] : [100, 1_000, 10_000]
        v.alrightSteps = 10
        v.sequential = method
        v.solver = solver
        return try v.run(instances.lowerBound).failedChecks
    }

    func theorem41(_ method: MethodUnderTest, _ instances: Instances) throws -> [String] {
        var v = Theorem41Verification()
        v.lambdas = [0.2, 0.7]
        v.horizons = quick ? [10, 100, 500] : [10, 100, 1_000]
        v.exactSeeds = quick ? 1_500 : 3_000
        v.threads = threads
        v.method = method
        v.solver = solver
        var rows = try v.run(name: "lower-bound", problem: instances.lowerBound)
        if !quick {
            // A long horizon on random-a, where the asymptotic check applies.
            v.lambdas = [0.5]
            v.horizons = [1_000, 100_000]
            v.seeds = 200
            rows += try v.run(name: "random-a", problem: instances.randomA)
        }
        return Theorem41Verification.verdict(rows).failedChecks
    }

    func maxright(_ method: MethodUnderTest, _ instances: Instances) throws -> [String] {
        var v = MaxrightVerification()
        v.lambdas = [0.25, 0.75]
        v.horizons = [10, 100, 1_000, 10_000, 100_000]
        v.threads = threads
        v.method = method
        v.solver = solver
        let rows = try v.run(name: "figure2", problem: instances.figure2) + (quick ? [] : try v.run(name: "random-a", problem: instances.randomA))
        return MaxrightVerification.failedChecks(rows)
    }

    /// The names of the checks each verification reports.
    static let checkNames: [WrongMethod.Imitates: [String]] = [
        .sequential: ["floor", "envelope", "certifiedFloor"],
        .alright: ["bound", "exact", "asymptotic", "propositionA1"],
        .maxright: ["tolerance", "decrease", "bestIterateBound"],
    ]

    /// Runs every wrong method and the three built-in controls; `progress` is told each one's id first.
    public func run(_ instances: Instances, progress: (String) -> Void = { _ in }) throws -> [Row] {
        let controls = [
            WrongMethod(id: "sequential (built-in)", imitates: .sequential, mistake: "none: the control", method: .builtIn),
            WrongMethod(id: "alright (built-in)", imitates: .alright, mistake: "none: the control", method: .builtIn),
            WrongMethod(id: "maxright (built-in)", imitates: .maxright, mistake: "none: the control", method: .builtIn),
        ]
        var rows: [Row] = []
        for (candidate, isControl) in controls.map({ ($0, true) }) + WrongMethods.all.map({ ($0, false) }) {
            progress(candidate.id)
            var failed: [String]
            do {
                failed = switch candidate.imitates {
                case .sequential: try theorem33(candidate.method, instances)
                case .alright: try theorem41(candidate.method, instances)
                case .maxright: try maxright(candidate.method, instances)
                }
            } catch is MaxrightVerification.MethodStopped {
                failed = ["stopped"]  // the verification refuses a run that ends before its horizon
            } catch let error as Theorem41Verification.NotAttained where error.description.contains("stopped before") {
                failed = ["stopped"]
            }
            rows.append(Row(id: candidate.id, imitates: candidate.imitates, mistake: candidate.mistake, isControl: isControl,
                            checks: Self.checkNames[candidate.imitates]!, rejectedBy: failed))
        }
        return rows
    }
}
