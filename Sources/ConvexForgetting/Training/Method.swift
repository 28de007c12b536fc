/// A method's name as the command line, experiment files and CSV files spell it.
public enum MethodName: String, CaseIterable, Sendable, Codable {
    /// Algorithm 1, DPO phase then SFT phase.
    case sequential
    /// Algorithm 1 with the phases reversed (SFT then DPO).
    case sequentialSFTFirst = "sequential-sft-first"
    /// Gradient steps on f_mix,lambda (both gradients every step).
    case mix
    /// Algorithm 2.
    case alright
    /// Algorithm 3.
    case maxright
    /// Memory-efficient MAXRIGHT (Appendix C), `evalEvery` = k.
    case maxrightStale = "maxright-stale"

    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// Algorithm 1, in either order.
    public var isSequential: Bool { self == .sequential || self == .sequentialSFTFirst }
}

/// How Sequential's second phase indexes the step-size schedule: `continue` carries the update index on
/// (update T_1 + k of the run uses alpha_{T_1 + k}), `restart` starts the schedule again (alpha_k), as a
/// fresh run on the second objective would. Constant rates give the same run either way.
public enum PhaseSchedule: String, CaseIterable, Sendable, Codable {
    case `continue`
    case restart

    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// Algorithm 1's plan: the order of the phases, their lengths T_DPO and T_SFT, the optional threshold
/// that ends a phase once its objective is within it of its optimum (the toy uses 0.05), and how the
/// second phase indexes the schedule (default `continue`).
public struct SequentialPlan: Sendable, Equatable {
    public var dpoFirst: Bool
    public var dpoSteps: Int
    public var sftSteps: Int
    public var threshold: Double?
    public var phaseSchedule: PhaseSchedule

    public init(dpoFirst: Bool, dpoSteps: Int, sftSteps: Int, threshold: Double? = nil, phaseSchedule: PhaseSchedule = .continue) {
        self.dpoFirst = dpoFirst
        self.dpoSteps = dpoSteps
        self.sftSteps = sftSteps
        self.threshold = threshold
        self.phaseSchedule = phaseSchedule
    }
}

/// The parameters a method may take, as a user gives them (nil: not given). `Method.make` hands each
/// method the ones it takes and refuses the others.
public struct MethodParameters: Sendable, Equatable {
    public var dpoSteps: Int?
    public var sftSteps: Int?
    public var threshold: Double?
    public var evalEvery: Int?
    public var phaseSchedule: PhaseSchedule?

    public init(dpoSteps: Int? = nil, sftSteps: Int? = nil, threshold: Double? = nil, evalEvery: Int? = nil,
                phaseSchedule: PhaseSchedule? = nil) {
        self.dpoSteps = dpoSteps
        self.sftSteps = sftSteps
        self.threshold = threshold
        self.evalEvery = evalEvery
        self.phaseSchedule = phaseSchedule
    }
}

/// The methods of the paper, each case carrying its own parameters. A method is a `SelectionRule` (which
/// objective at step t) run by the shared loop; `Trainer.run(_:record:)` below is the one place a case
/// becomes its rule. Adding a method: a rule file in Rules/, a case here, its line in that switch, and its
/// name in `MethodName` and `make`.
public enum Method: Sendable, Equatable {
    case sequential(SequentialPlan)
    case mix
    case alright
    case maxright
    case maxrightStale(evalEvery: Int)

    public var name: MethodName {
        switch self {
        case .sequential(let plan): plan.dpoFirst ? .sequential : .sequentialSFTFirst
        case .mix: .mix
        case .alright: .alright
        case .maxright: .maxright
        case .maxrightStale: .maxrightStale
        }
    }

    /// The method `name` with horizon `steps` (Sequential's phases default to `steps` each) and the given
    /// parameters; a parameter the method does not take is an error naming it.
    public static func make(_ name: MethodName, steps: Int, parameters p: MethodParameters = MethodParameters())
        throws(ArgumentError) -> Method {
        guard steps >= 1 else { throw ArgumentError("steps", "must be >= 1, got \(steps)") }
        if !name.isSequential, let given = [("dpoSteps", p.dpoSteps != nil), ("sftSteps", p.sftSteps != nil), ("threshold", p.threshold != nil),
                                                   ("phaseSchedule", p.phaseSchedule != nil)].first(where: \.1) {
            throw ArgumentError(given.0, "applies to the sequential methods only")
        }
        if name != .maxrightStale, p.evalEvery != nil { throw ArgumentError("evalEvery", "applies to maxright-stale only") }
        let method: Method
        switch name {
        case .sequential, .sequentialSFTFirst:
            method = .sequential(SequentialPlan(dpoFirst: name == .sequential, dpoSteps: p.dpoSteps ?? steps,
                                                sftSteps: p.sftSteps ?? steps, threshold: p.threshold,
                                                phaseSchedule: p.phaseSchedule ?? .continue))
        case .mix: method = .mix
        case .alright: method = .alright
        case .maxright: method = .maxright
        case .maxrightStale: method = .maxrightStale(evalEvery: p.evalEvery ?? 1)
        }
        try method.validate()
        return method
    }

    /// The parameters this method carries (for summaries and manifests).
    public var parameters: MethodParameters {
        switch self {
        case .sequential(let plan):
            MethodParameters(dpoSteps: plan.dpoSteps, sftSteps: plan.sftSteps, threshold: plan.threshold, phaseSchedule: plan.phaseSchedule)
        case .maxrightStale(let k): MethodParameters(evalEvery: k)
        case .mix, .alright, .maxright: MethodParameters()
        }
    }

    /// Checks the carried parameters.
    public func validate() throws(ArgumentError) {
        switch self {
        case .sequential(let plan):
            if plan.dpoSteps < 0 { throw ArgumentError("dpoSteps", "must be >= 0, got \(plan.dpoSteps)") }
            if plan.sftSteps < 0 { throw ArgumentError("sftSteps", "must be >= 0, got \(plan.sftSteps)") }
            if let h = plan.threshold, !(h.isFinite && h >= 0) { throw ArgumentError("threshold", "must be a finite number >= 0, got \(h)") }
            let (_, overflow) = plan.dpoSteps.addingReportingOverflow(plan.sftSteps)
            if overflow { throw ArgumentError("sftSteps", "makes T_DPO + T_SFT too large") }
        case .maxrightStale(let k):
            if k < 1 { throw ArgumentError("evalEvery", "must be >= 1, got \(k)") }
        case .mix, .alright, .maxright:
            break
        }
    }

    /// The largest number of updates a run of horizon `steps` can take.
    public func maximumSteps(horizon steps: Int) -> Int {
        if case .sequential(let plan) = self {
            let (total, overflow) = plan.dpoSteps.addingReportingOverflow(plan.sftSteps)
            return overflow ? Int.max : total  // saturating: `validate` refuses such plans
        }
        return steps
    }
}

extension Trainer {
    /// Runs `spec` with its method's rule, handing every recorded row to `record` in step order. The one
    /// place a `Method` case becomes its `SelectionRule`.
    public func run(_ spec: RunSpec, record: (TrajectoryRow) throws -> Void) rethrows -> RunResult {
        switch spec.method {
        case .sequential(let plan): try run(SequentialRule(plan), spec, record: record)
        case .mix: try run(MixRule(), spec, record: record)
        case .alright: try run(AlrightRule(), spec, record: record)
        case .maxright: try run(MaxrightRule(), spec, record: record)
        case .maxrightStale(let k): try run(StaleMaxrightRule(evalEvery: k), spec, record: record)
        }
    }
}
