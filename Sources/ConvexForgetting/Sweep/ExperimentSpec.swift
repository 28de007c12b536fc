import Foundation

/// A sweep experiment: instance files and the grids whose Cartesian product is run. YAML (or JSON):
/// ```
/// name: theorem41
/// instances: [instances/lower-bound.json]      # relative to the experiment file
/// methods: [alright]                           # sequential, sequential-sft-first, mix, alright, maxright, maxright-stale
/// lambdas: [0.1, 0.5, 0.9]
/// steps: [10, 100, 1000]                       # horizons T (Sequential: T_DPO = T_SFT = T unless `sequential` says)
/// seeds: [0, 1, 2]                             # or {from: 0, count: 100}
/// schedules: [{name: inverse-sqrt, rate: 0.5}] # constant | inverse-sqrt
/// batch: [full, 4]                             # optional, default [full]
/// evalEvery: [1, 10]                           # optional, maxright-stale only, default [1]
/// sequential: {dpoSteps: 1000, sftSteps: 1000, threshold: 0.05}   # optional; or {splitByLambda: true};
///                                              # phaseSchedule: continue (default) | restart
/// record: final                                # all | log | every:N | final | steps:...; default final
/// ```
/// Unknown keys are errors naming their path; so are empty grids and values out of range.
public struct ExperimentSpec: Sendable, Equatable {
    public struct Sequential: Sendable, Equatable {
        public var dpoSteps: Int?
        public var sftSteps: Int?
        public var threshold: Double?
        /// Split the horizon T by lambda, as the paper's Sequential trades off by epochs:
        /// T_DPO = round(lambda T), T_SFT = T - T_DPO (same total cost as T steps of the other methods).
        public var splitByLambda = false
        /// How the second phase indexes the schedule (nil: the default, continue).
        public var phaseSchedule: PhaseSchedule?

        public init() {}
    }

    public var name: String
    /// Instance paths, resolved to absolute paths: a manifest works from any directory, and summary.csv's
    /// `instance` column is the same whichever directory a sweep, its resumption or its shards ran from.
    public var instances: [String]
    public var methods: [MethodName]
    public var lambdas: [Double]
    public var steps: [Int]
    public var seeds: [UInt64]
    public var schedules: [StepSchedule]
    /// nil entries mean full batch.
    public var batch: [Int?]
    public var evalEvery: [Int]
    public var sequential: Sequential
    public var record: RecordMode

    /// Parses YAML or JSON text; `file` locates relative instance paths and names the file in errors.
    public static func parse(_ text: String, file: String) throws(FieldError) -> ExperimentSpec {
        try SchemaDocument.attributed(to: file) { () throws(FieldError) in
            try build(SchemaDocument.parse(Data(text.utf8), format: .yaml),
                      base: URL(fileURLWithPath: file).deletingLastPathComponent(), checkFiles: true)
        }
    }

    public static func load(path: String) throws(FieldError) -> ExperimentSpec {
        let root = try SchemaDocument.load(path: path, format: .yaml)
        return try SchemaDocument.attributed(to: path) { () throws(FieldError) in
            try build(root, base: URL(fileURLWithPath: path).deletingLastPathComponent(), checkFiles: true)
        }
    }

    /// Reads the experiment schema. Relative instance paths are resolved against `base` (nil: taken as
    /// they are, as a manifest stores them); with `checkFiles`, each must exist.
    static func build(_ root: JSONFields, base: URL?, checkFiles: Bool) throws(FieldError) -> ExperimentSpec {
        let f = try root.object(required: ["instances", "methods", "lambdas", "steps", "seeds", "schedules"],
                                optional: ["name", "batch", "evalEvery", "sequential", "record"])
        func grid<T>(_ key: String, _ read: (JSONFields) throws(FieldError) -> T) throws(FieldError) -> [T] {
            let items = try f[key]!.array()
            guard !items.isEmpty else { throw FieldError(path: key, message: "empty grid: give at least one value") }
            var values: [T] = []
            for item in items { values.append(try read(item)) }
            return values
        }
        func argument<T>(_ item: JSONFields, _ make: () throws(ArgumentError) -> T) throws(FieldError) -> T {
            do { return try make() } catch { throw FieldError(path: item.path, message: error.message) }
        }
        let name = try f["name"]?.string() ?? "experiment"
        let instances = try grid("instances") { (item) throws(FieldError) -> String in
            let relative = try item.string()
            guard let base, !relative.hasPrefix("/") else { return relative }
            let resolved = base.appendingPathComponent(relative).standardizedFileURL.path
            if checkFiles, !FileManager.default.fileExists(atPath: resolved) {
                throw FieldError(path: item.path, message: "instance file \(relative) not found (looked at \(resolved))")
            }
            return resolved
        }
        let methods = try grid("methods") { (item) throws(FieldError) -> MethodName in
            let text = try item.string()
            guard let m = MethodName(rawValue: text) else {
                throw FieldError(path: item.path, message: "unknown method '\(text)' (expected one of \(MethodName.names))")
            }
            return m
        }
        let lambdas = try grid("lambdas") { (item) throws(FieldError) -> Double in
            let l = try item.number()
            guard l >= 0, l <= 1 else { throw FieldError(path: item.path, message: "lambda must lie in [0, 1], got \(l)") }
            return l
        }
        let steps = try grid("steps") { (item) throws(FieldError) -> Int in
            let s = try item.integer()
            guard s >= 1 else { throw FieldError(path: item.path, message: "steps must be >= 1, got \(s)") }
            return s
        }
        var seeds: [UInt64] = []
        let seedField = f["seeds"]!
        if case .object = seedField.value {
            let o = try seedField.object(required: ["count"], optional: ["from"])
            let count = try o["count"]!.integer()
            let from = try o["from"]?.integer() ?? 0
            guard count >= 1 else { throw FieldError(path: "seeds.count", message: "empty grid: count must be >= 1") }
            guard from >= 0 else { throw FieldError(path: "seeds.from", message: "must be >= 0") }
            guard count <= Limits.seeds else { throw FieldError(path: "seeds.count", message: "is too large (at most \(Limits.seeds))") }
            seeds = (0..<count).map { UInt64(from + $0) }
        } else {
            seeds = try grid("seeds") { (item) throws(FieldError) -> UInt64 in
                let s = try item.integer()
                guard s >= 0 else { throw FieldError(path: item.path, message: "seeds must be >= 0") }
                return UInt64(s)
            }
        }
        let schedules = try grid("schedules") { (item) throws(FieldError) -> StepSchedule in
            let o = try item.object(required: ["name", "rate"])
            let text = try o["name"]!.string()
            guard let scheduleName = ScheduleName(rawValue: text) else {
                throw FieldError(path: item.path, message: "unknown schedule '\(text)' (expected \(ScheduleName.names))")
            }
            let rate = try o["rate"]!.number()
            return try argument(o["rate"]!) { () throws(ArgumentError) in try StepSchedule(scheduleName, rate: rate) }
        }
        var batch: [Int?] = [nil]
        if f["batch"] != nil {
            batch = try grid("batch") { (item) throws(FieldError) -> Int? in
                if case .string("full") = item.value { return nil }
                let b = try item.integer()
                guard b >= 1, b <= Limits.batch else {
                    throw FieldError(path: item.path, message: "batch must be in 1...\(Limits.batch) or 'full', got \(b)")
                }
                return b
            }
        }
        var evalEvery = [1]
        if f["evalEvery"] != nil {
            evalEvery = try grid("evalEvery") { (item) throws(FieldError) -> Int in
                let k = try item.integer()
                guard k >= 1 else { throw FieldError(path: item.path, message: "evalEvery must be >= 1, got \(k)") }
                return k
            }
        }
        var sequential = Sequential()
        if let field = f["sequential"] {
            let o = try field.object(required: [], optional: ["dpoSteps", "sftSteps", "threshold", "splitByLambda", "phaseSchedule"])
            if let split = o["splitByLambda"] {
                guard case .bool(let b) = split.value else { throw FieldError(path: split.path, message: "must be true or false") }
                sequential.splitByLambda = b
                if b, o["dpoSteps"] != nil || o["sftSteps"] != nil {
                    throw FieldError(path: split.path, message: "excludes dpoSteps and sftSteps")
                }
            }
            sequential.dpoSteps = try o["dpoSteps"]?.integer()
            sequential.sftSteps = try o["sftSteps"]?.integer()
            sequential.threshold = try o["threshold"]?.number()
            for (key, value) in [("dpoSteps", sequential.dpoSteps), ("sftSteps", sequential.sftSteps)] {
                if let v = value, v < 0 { throw FieldError(path: "sequential.\(key)", message: "must be >= 0") }
            }
            if let h = sequential.threshold, h < 0 { throw FieldError(path: "sequential.threshold", message: "must be >= 0") }
            if let field = o["phaseSchedule"] {
                let text = try field.string()
                guard let value = PhaseSchedule(rawValue: text) else {
                    throw FieldError(path: field.path, message: "must be one of \(PhaseSchedule.names), got '\(text)'")
                }
                sequential.phaseSchedule = value
            }
        }
        var record = RecordMode.final
        if let field = f["record"] {
            let text = try field.string()
            do { record = try RecordMode(parsing: text) } catch { throw FieldError(path: "record", message: error.description) }
        }
        return ExperimentSpec(name: name, instances: instances, methods: methods, lambdas: lambdas, steps: steps, seeds: seeds,
                              schedules: schedules, batch: batch, evalEvery: evalEvery, sequential: sequential, record: record)
    }

    /// The spec in its own schema, instance paths as resolved: what a manifest stores, read back by
    /// `build(_:base: nil, checkFiles: false)` into an equal spec.
    var json: JSONValue {
        func numbers<S: Sequence>(_ values: S, _ convert: (S.Element) -> Double) -> JSONValue { .array(values.map { .number(convert($0)) }) }
        var sequentialFields: [String: JSONValue] = [:]
        if let v = sequential.dpoSteps { sequentialFields["dpoSteps"] = .number(Double(v)) }
        if let v = sequential.sftSteps { sequentialFields["sftSteps"] = .number(Double(v)) }
        if let v = sequential.threshold { sequentialFields["threshold"] = .number(v) }
        if sequential.splitByLambda { sequentialFields["splitByLambda"] = .bool(true) }
        if let v = sequential.phaseSchedule { sequentialFields["phaseSchedule"] = .string(v.rawValue) }
        var fields: [String: JSONValue] = [
            "name": .string(name), "instances": .array(instances.map { .string($0) }),
            "methods": .array(methods.map { .string($0.rawValue) }), "lambdas": numbers(lambdas) { $0 },
            "steps": numbers(steps) { Double($0) },
            "schedules": .array(schedules.map { .object(["name": .string($0.name.rawValue), "rate": .number($0.baseRate)]) }),
            "batch": .array(batch.map { $0.map { .number(Double($0)) } ?? .string("full") }),
            "evalEvery": numbers(evalEvery) { Double($0) }, "record": .string(record.description),
        ]
        // A contiguous seed range stays compact.
        if let first = seeds.first, seeds == Array(first..<(first + UInt64(seeds.count))) {
            fields["seeds"] = .object(["from": .number(Double(first)), "count": .number(Double(seeds.count))])
        } else {
            fields["seeds"] = numbers(seeds) { Double($0) }
        }
        if !sequentialFields.isEmpty { fields["sequential"] = .object(sequentialFields) }
        return .object(fields)
    }

    /// The number of runs of the grid, counted without building it (nil past Int.max).
    public var runCount: Int? {
        var perInstance = 0
        for name in methods {
            let factors = [schedules.count, lambdas.count, steps.count, name == .maxrightStale ? evalEvery.count : 1, batch.count, seeds.count]
            guard let n = Limits.product(factors) else { return nil }
            let (sum, overflow) = perInstance.addingReportingOverflow(n)
            if overflow { return nil }
            perInstance = sum
        }
        return Limits.product([instances.count, perInstance])
    }

    /// One run of the grid.
    public struct Run: Sendable {
        public var id: Int
        public var instance: Int
        public var spec: RunSpec
    }

    /// The Cartesian product in a fixed order: instance, method, schedule, lambda, steps, evalEvery
    /// (maxright-stale only), batch, seed. A run's index is its `run_id`. Computed once by whoever plans
    /// the sweep (`SweepRunner`); it cannot fail for a parsed spec, but the methods are built (and so
    /// checked) through `Method.make`.
    public func runs(maxRuns: Int = Limits.defaultMaxRuns) throws(ArgumentError) -> [Run] {
        guard let count = runCount, count <= maxRuns else {
            throw ArgumentError("maxRuns", "is \(maxRuns), but the grid holds \(runCount.map(String.init) ?? "more than Int.max") runs; raise --max-runs or shrink the grid")
        }
        var result: [Run] = []
        result.reserveCapacity(count)
        for i in instances.indices {
            for name in methods {
                for schedule in schedules {
                    for lambda in lambdas {
                        for steps in self.steps {
                            for k in (name == .maxrightStale ? evalEvery.map { Optional($0) } : [nil]) {
                                var parameters = MethodParameters(evalEvery: k)
                                if name.isSequential {
                                    parameters.threshold = sequential.threshold
                                    parameters.phaseSchedule = sequential.phaseSchedule
                                    if sequential.splitByLambda {
                                        parameters.dpoSteps = Int((lambda * Double(steps)).rounded())
                                        parameters.sftSteps = steps - parameters.dpoSteps!
                                    } else {
                                        parameters.dpoSteps = sequential.dpoSteps
                                        parameters.sftSteps = sequential.sftSteps
                                    }
                                }
                                let method = try Method.make(name, steps: steps, parameters: parameters)
                                for b in batch {
                                    for seed in seeds {
                                        let spec = RunSpec(method: method, lambda: lambda, steps: steps, schedule: schedule,
                                                           seed: seed, batch: b, record: record)
                                        result.append(Run(id: result.count, instance: i, spec: spec))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return result
    }
}
