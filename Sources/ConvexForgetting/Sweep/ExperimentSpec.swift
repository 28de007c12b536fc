import Foundation
import Yams

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
/// sequential: {dpoSteps: 1000, sftSteps: 1000, threshold: 0.05}   # optional; or {splitByLambda: true}
/// record: final                                # all | log | every:N | final | steps:...; default final
/// ```
/// Unknown keys are errors naming their path; so are empty grids and values out of range.
public struct ExperimentSpec: Sendable, Equatable, Codable {
    public struct Schedule: Sendable, Equatable, Codable {
        public var name: String
        public var rate: Double
    }

    public struct Sequential: Sendable, Equatable, Codable {
        public var dpoSteps: Int?
        public var sftSteps: Int?
        public var threshold: Double?
        /// Split the horizon T by lambda, as the paper's Sequential trades off by epochs:
        /// T_DPO = round(lambda T), T_SFT = T - T_DPO (same total cost as T steps of the other methods).
        public var splitByLambda: Bool?
    }

    public var name: String
    /// Instance paths as resolved (relative to the working directory).
    public var instances: [String]
    public var methods: [Method]
    public var lambdas: [Double]
    public var steps: [Int]
    public var seeds: [UInt64]
    public var schedules: [Schedule]
    /// nil entries mean full batch.
    public var batch: [Int?]
    public var evalEvery: [Int]
    public var sequential: Sequential
    public var record: String

    /// Parses YAML or JSON text; `file` locates relative instance paths and names the file in errors.
    public static func parse(_ text: String, file: String) throws(InstanceError) -> ExperimentSpec {
        let root: JSONValue
        do {
            guard let loaded = try Yams.load(yaml: text) else {
                throw InstanceError(file: file, path: "", message: "the experiment file is empty")
            }
            root = try convert(loaded, path: "")
        } catch let error as InstanceError {
            var e = error
            e.file = file
            throw e
        } catch {
            throw InstanceError(file: file, path: "", message: "malformed YAML/JSON (\(String(describing: error).split(separator: "\n").first ?? ""))")
        }
        do {
            return try build(JSONFields(root), base: URL(fileURLWithPath: file).deletingLastPathComponent())
        } catch var error {
            error.file = file
            throw error
        }
    }

    public static func load(path: String) throws(InstanceError) -> ExperimentSpec {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw InstanceError(file: path, path: "", message: "cannot read the file")
        }
        return try parse(text, file: path)
    }

    /// Yams's Swift values to a JSONValue (mapping keys must be strings).
    static func convert(_ value: Any, path: String) throws(InstanceError) -> JSONValue {
        switch value {
        case let b as Bool: return .bool(b)
        case let i as Int: return .number(Double(i))
        case let d as Double: return .number(d)
        case let s as String: return .string(s)
        case let a as [Any]:
            var items: [JSONValue] = []
            for (k, item) in a.enumerated() { items.append(try convert(item, path: "\(path)[\(k)]")) }
            return .array(items)
        case let m as [AnyHashable: Any]:
            var fields: [String: JSONValue] = [:]
            for (key, item) in m {
                guard let k = key.base as? String else { throw InstanceError(path: path, message: "mapping keys must be strings") }
                fields[k] = try convert(item, path: path.isEmpty ? k : "\(path).\(k)")
            }
            return .object(fields)
        case is NSNull: return .null
        default:
            if String(describing: value) == "nil" || String(describing: type(of: value)).contains("Optional") { return .null }
            throw InstanceError(path: path, message: "unsupported value \(value)")
        }
    }

    static func build(_ root: JSONFields, base: URL) throws(InstanceError) -> ExperimentSpec {
        let f = try root.object(required: ["instances", "methods", "lambdas", "steps", "seeds", "schedules"],
                                optional: ["name", "batch", "evalEvery", "sequential", "record"])
        func nonEmpty<T>(_ items: [T], _ key: String) throws(InstanceError) -> [T] {
            guard !items.isEmpty else { throw InstanceError(path: key, message: "empty grid: give at least one value") }
            return items
        }
        let name = try f["name"]?.string() ?? "experiment"
        var instances: [String] = []
        for item in try nonEmpty(try f["instances"]!.array(), "instances") {
            let relative = try item.string()
            let resolved = relative.hasPrefix("/") ? relative : base.appendingPathComponent(relative).standardizedFileURL.path
            guard FileManager.default.fileExists(atPath: resolved) else {
                throw InstanceError(path: item.path, message: "instance file \(relative) not found (looked at \(resolved))")
            }
            instances.append(relativePath(resolved))
        }
        var methods: [Method] = []
        for item in try nonEmpty(try f["methods"]!.array(), "methods") {
            let text = try item.string()
            guard let m = Method(rawValue: text) else {
                throw InstanceError(path: item.path, message: "unknown method '\(text)' (expected one of \(Method.names))")
            }
            methods.append(m)
        }
        var lambdas: [Double] = []
        for item in try nonEmpty(try f["lambdas"]!.array(), "lambdas") {
            let l = try item.number()
            guard l >= 0, l <= 1 else { throw InstanceError(path: item.path, message: "lambda must lie in [0, 1], got \(l)") }
            lambdas.append(l)
        }
        var steps: [Int] = []
        for item in try nonEmpty(try f["steps"]!.array(), "steps") {
            let s = try item.integer()
            guard s >= 1 else { throw InstanceError(path: item.path, message: "steps must be >= 1, got \(s)") }
            steps.append(s)
        }
        var seeds: [UInt64] = []
        let seedField = f["seeds"]!
        if case .object = seedField.value {
            let o = try seedField.object(required: ["count"], optional: ["from"])
            let count = try o["count"]!.integer()
            let from = try o["from"]?.integer() ?? 0
            guard count >= 1 else { throw InstanceError(path: "seeds.count", message: "empty grid: count must be >= 1") }
            guard from >= 0 else { throw InstanceError(path: "seeds.from", message: "must be >= 0") }
            seeds = (0..<count).map { UInt64(from + $0) }
        } else {
            for item in try nonEmpty(try seedField.array(), "seeds") {
                let s = try item.integer()
                guard s >= 0 else { throw InstanceError(path: item.path, message: "seeds must be >= 0") }
                seeds.append(UInt64(s))
            }
        }
        var schedules: [Schedule] = []
        for item in try nonEmpty(try f["schedules"]!.array(), "schedules") {
            let o = try item.object(required: ["name", "rate"])
            let schedule = Schedule(name: try o["name"]!.string(), rate: try o["rate"]!.number())
            do { _ = try StepSchedule(name: schedule.name, rate: schedule.rate) } catch {
                throw InstanceError(path: item.path, message: error.description)
            }
            schedules.append(schedule)
        }
        var batch: [Int?] = [nil]
        if let field = f["batch"] {
            batch = []
            for item in try nonEmpty(try field.array(), "batch") {
                if case .string("full") = item.value { batch.append(nil); continue }
                let b = try item.integer()
                guard b >= 1 else { throw InstanceError(path: item.path, message: "batch must be >= 1 or 'full', got \(b)") }
                batch.append(b)
            }
        }
        var evalEvery = [1]
        if let field = f["evalEvery"] {
            evalEvery = []
            for item in try nonEmpty(try field.array(), "evalEvery") {
                let k = try item.integer()
                guard k >= 1 else { throw InstanceError(path: item.path, message: "evalEvery must be >= 1, got \(k)") }
                evalEvery.append(k)
            }
        }
        var sequential = Sequential()
        if let field = f["sequential"] {
            let o = try field.object(required: [], optional: ["dpoSteps", "sftSteps", "threshold", "splitByLambda"])
            if let split = o["splitByLambda"] {
                guard case .bool(let b) = split.value else { throw InstanceError(path: split.path, message: "must be true or false") }
                sequential.splitByLambda = b
                if b, o["dpoSteps"] != nil || o["sftSteps"] != nil {
                    throw InstanceError(path: split.path, message: "excludes dpoSteps and sftSteps")
                }
            }
            sequential.dpoSteps = try o["dpoSteps"]?.integer()
            sequential.sftSteps = try o["sftSteps"]?.integer()
            sequential.threshold = try o["threshold"]?.number()
            for (key, value) in [("dpoSteps", sequential.dpoSteps), ("sftSteps", sequential.sftSteps)] {
                if let v = value, v < 0 { throw InstanceError(path: "sequential.\(key)", message: "must be >= 0") }
            }
            if let h = sequential.threshold, h < 0 { throw InstanceError(path: "sequential.threshold", message: "must be >= 0") }
        }
        let record = try f["record"]?.string() ?? "final"
        do { _ = try RecordMode(parsing: record) } catch { throw InstanceError(path: "record", message: error.description) }
        return ExperimentSpec(name: name, instances: instances, methods: methods, lambdas: lambdas, steps: steps, seeds: seeds,
                              schedules: schedules, batch: batch, evalEvery: evalEvery, sequential: sequential, record: record)
    }

    /// A path relative to the working directory when it lies below it.
    static func relativePath(_ absolute: String) -> String {
        let cwd = FileManager.default.currentDirectoryPath + "/"
        return absolute.hasPrefix(cwd) ? String(absolute.dropFirst(cwd.count)) : absolute
    }

    /// One run of the grid.
    public struct Run: Sendable {
        public var id: Int
        public var instance: Int
        public var spec: RunSpec
    }

    /// The Cartesian product in a fixed order: instance, method, schedule, lambda, steps, evalEvery
    /// (maxright-stale only), batch, seed. A run's index is its `run_id`.
    public var runs: [Run] {
        var result: [Run] = []
        let record = (try? RecordMode(parsing: record)) ?? .final
        for (i, _) in instances.enumerated() {
            for method in methods {
                for schedule in schedules {
                    for lambda in lambdas {
                        for steps in self.steps {
                            for k in (method == .maxrightStale ? evalEvery : [1]) {
                                for b in batch {
                                    for seed in seeds {
                                        var dpoSteps = sequential.dpoSteps, sftSteps = sequential.sftSteps
                                        if sequential.splitByLambda == true {
                                            dpoSteps = Int((lambda * Double(steps)).rounded())
                                            sftSteps = steps - dpoSteps!
                                        }
                                        let spec = RunSpec(
                                            method: method, lambda: lambda, steps: steps,
                                            dpoSteps: method.isSequential ? dpoSteps : nil,
                                            sftSteps: method.isSequential ? sftSteps : nil,
                                            threshold: method.isSequential ? sequential.threshold : nil,
                                            evalEvery: k, schedule: try! StepSchedule(name: schedule.name, rate: schedule.rate),
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
