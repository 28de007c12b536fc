/// The methods of the paper, by their command-line names.
public enum Method: String, CaseIterable, Sendable, Codable {
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

    public var isSequential: Bool { self == .sequential || self == .sequentialSFTFirst }
}

/// Everything that defines one training run on a problem.
public struct RunSpec: Sendable, Equatable {
    public var method: Method
    /// The trade-off lambda in [0, 1] (weight of DPO) for gaps, Mix, ALRIGHT and MAXRIGHT.
    public var lambda: Double
    /// Updates for every method but Sequential.
    public var steps: Int
    /// Sequential's phase lengths T_DPO and T_SFT (default: `steps` each).
    public var dpoSteps: Int?
    public var sftSteps: Int?
    /// Sequential: end a phase once its objective is within this of its optimum.
    public var threshold: Double?
    /// k of memory-efficient MAXRIGHT.
    public var evalEvery: Int
    public var schedule: StepSchedule
    public var seed: UInt64
    /// Data sampled (with replacement) per gradient; nil for full batch.
    public var batch: Int?
    public var record: RecordMode
    /// The initial iterate; nil for the problem's default start (`Problem.defaultStart`).
    public var start: [Double]?

    public init(method: Method, lambda: Double, steps: Int, dpoSteps: Int? = nil, sftSteps: Int? = nil,
                threshold: Double? = nil, evalEvery: Int = 1, schedule: StepSchedule, seed: UInt64 = 0,
                batch: Int? = nil, record: RecordMode? = nil, start: [Double]? = nil) {
        self.method = method
        self.lambda = lambda
        self.steps = steps
        self.dpoSteps = dpoSteps
        self.sftSteps = sftSteps
        self.threshold = threshold
        self.evalEvery = evalEvery
        self.schedule = schedule
        self.seed = seed
        self.batch = batch
        self.start = start
        let total = method.isSequential ? (dpoSteps ?? steps) + (sftSteps ?? steps) : steps
        self.record = record ?? .automatic(steps: total)
    }

    /// The largest number of updates the run can take.
    public var maximumSteps: Int {
        method.isSequential ? (dpoSteps ?? steps) + (sftSteps ?? steps) : steps
    }

    public struct Invalid: Error, CustomStringConvertible {
        /// The option at fault, as the command line spells it (`--lambda`).
        public var field: String
        public var message: String
        public var description: String { "\(field) \(message)" }
    }

    /// Checks every parameter; the error names the option.
    public func validate(dimension: Int) throws(Invalid) {
        guard lambda.isFinite, lambda >= 0, lambda <= 1 else { throw Invalid(field: "--lambda", message: "must be in [0, 1], got \(lambda)") }
        guard steps >= 1 else { throw Invalid(field: "--steps", message: "must be >= 1, got \(steps)") }
        if let s = dpoSteps, s < 0 { throw Invalid(field: "--dpo-steps", message: "must be >= 0, got \(s)") }
        if let s = sftSteps, s < 0 { throw Invalid(field: "--sft-steps", message: "must be >= 0, got \(s)") }
        if let h = threshold, !(h.isFinite && h >= 0) { throw Invalid(field: "--threshold", message: "must be a finite number >= 0, got \(h)") }
        guard evalEvery >= 1 else { throw Invalid(field: "--eval-every", message: "must be >= 1, got \(evalEvery)") }
        let rate = schedule.baseRate
        guard rate.isFinite, rate > 0 else { throw Invalid(field: "--learning-rate", message: "must be a finite number > 0, got \(rate)") }
        if let b = batch, b < 1 { throw Invalid(field: "--batch", message: "must be >= 1, got \(b)") }
        if case .every(let n) = record, n < 1 { throw Invalid(field: "--record", message: "every:N needs N >= 1") }
        if let start {
            guard start.count == dimension else { throw Invalid(field: "--init", message: "has \(start.count) entries, but the instance has dimension \(dimension)") }
            guard start.allSatisfy(\.isFinite) else { throw Invalid(field: "--init", message: "must be finite") }
        }
    }
}
