/// Everything that defines one training run on a problem: the method (with its own parameters) and the
/// settings every method shares.
public struct RunSpec: Sendable, Equatable {
    public var method: Method
    /// The trade-off lambda in [0, 1] (weight of DPO) for gaps, Mix, ALRIGHT and MAXRIGHT.
    public var lambda: Double
    /// The horizon T: updates for every method but Sequential, whose phases its plan gives.
    public var steps: Int
    public var schedule: StepSchedule
    public var seed: UInt64
    /// Data sampled (with replacement) per gradient; nil for full batch.
    public var batch: Int?
    public var record: RecordMode
    /// The initial iterate; nil for the problem's default start (`Problem.defaultStart`).
    public var start: [Double]?

    public init(method: Method, lambda: Double, steps: Int, schedule: StepSchedule, seed: UInt64 = 0,
                batch: Int? = nil, record: RecordMode? = nil, start: [Double]? = nil) {
        self.method = method
        self.lambda = lambda
        self.steps = steps
        self.schedule = schedule
        self.seed = seed
        self.batch = batch
        self.start = start
        self.record = record ?? .automatic(steps: method.maximumSteps(horizon: steps))
    }

    /// The largest number of updates the run can take.
    public var maximumSteps: Int { method.maximumSteps(horizon: steps) }

    /// Checks every parameter against an instance of dimension `dimension`; the error names the argument.
    /// With `featureBound` and `beta`, the start must keep its margins below `Limits.margin`.
    public func validate(dimension: Int, featureBound: Double = 0, beta: Double = 1) throws(ArgumentError) {
        guard lambda.isFinite, lambda >= 0, lambda <= 1 else { throw ArgumentError("lambda", "must be in [0, 1], got \(lambda)") }
        guard steps >= 1 else { throw ArgumentError("steps", "must be >= 1, got \(steps)") }
        try method.validate()
        try schedule.validate()
        if let b = batch, b < 1 || b > Limits.batch { throw ArgumentError("batch", "must be in 1...\(Limits.batch), got \(b)") }
        if case .every(let n) = record, n < 1 { throw ArgumentError("record", "every:N needs N >= 1") }
        if let start {
            guard start.count == dimension else { throw ArgumentError("init", "has \(start.count) entries, but the instance has dimension \(dimension)") }
            guard start.allSatisfy(\.isFinite) else { throw ArgumentError("init", "must be finite") }
            guard Limits.marginBound(start, featureBound: featureBound, beta: beta) <= Limits.margin else {
                throw ArgumentError("init", "is too large: its margins |theta . phi| would pass 1e150 (the losses would overflow)")
            }
        }
    }
}
