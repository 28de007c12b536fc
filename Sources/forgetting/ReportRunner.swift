import ConvexForgetting
import Foundation

/// One claim of the report: what it states, the commands that check it, the verdict and its key figures.
struct ReportClaim {
    enum Verdict: String { case passed, failed, skipped }

    var id: String
    var section: String
    var statement: String
    var commands: [String] = []
    var verdict = Verdict.passed
    /// Why it failed or was skipped.
    var note = ""
    var figures: [(String, String)] = []
    /// Files of the report behind it (CSVs, pictures), relative to the report folder.
    var files: [String] = []
    var seconds = 0.0
}

/// The report's sections in order: the name `--only` takes, and the title the progress display shows.
enum ReportSection: String, CaseIterable {
    case setting, figure2, theorem33, theorem41, maxright, mutants, figure3, figure4, digits

    var title: String {
        switch self {
        case .setting: "the setting's claims on every shipped instance"
        case .figure2: "Figure 2"
        case .theorem33: "Theorem 3.3"
        case .theorem41: "Theorem 4.1"
        case .maxright: "MAXRIGHT's own target"
        case .mutants: "the mutation table"
        case .figure3: "the Figure 3 analogue"
        case .figure4: "the Figure 4 analogue"
        case .digits: "real data (digits)"
        }
    }

    static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// Runs the report's commands, each as a separate process (the `forgetting` executable itself, or the
/// plotting and data scripts with the Python that has matplotlib), into the report folder.
struct ReportRunner {
    let repository: URL
    let folder: URL
    let quick: Bool
    let executable: String
    let python: String?
    /// Every command run, in order, as it can be typed from the repository.
    private(set) var commands: [String] = []
    private let started = Date()
    private var step = 0
    private let total: Int

    /// The sections run (all by default).
    let only: [ReportSection]

    init(repository: URL, folder: URL, quick: Bool, only: [ReportSection] = ReportSection.allCases) {
        self.repository = repository
        self.folder = folder
        self.quick = quick
        self.only = only
        executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
        python = Plotting.python(repository: repository)
        total = only.count
    }

    var elapsed: Double { Date().timeIntervalSince(started) }

    /// The report folder's path of a relative name (the commands write there).
    func path(_ relative: String) -> String { folder.appendingPathComponent(relative).path }

    func shellQuoted(_ s: String) -> String {
        s.allSatisfy({ $0.isLetter || $0.isNumber || "/._-,=:+".contains($0) }) ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Shown in the report: paths inside the report folder as OUT/..., the executable as `forgetting`.
    func display(_ program: String, _ arguments: [String]) -> String {
        ([program] + arguments).map { shellQuoted($0.replacingOccurrences(of: folder.path, with: "OUT")) }.joined(separator: " ")
    }

    /// Runs a program from the repository folder with its output in logs/NAME.log; returns the exit status.
    mutating func run(_ program: String, _ arguments: [String], shown: String, log name: String) -> Int32 {
        commands.append(display(shown, arguments))
        FileHandle.standardError.write(Data(String(format: "report:       %@ (%.0f s so far)\n", display(shown, arguments), elapsed).utf8))
        let logs = folder.appendingPathComponent("logs")
        try? FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let logPath = logs.appendingPathComponent("\(name).log").path
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        guard let log = FileHandle(forWritingAtPath: logPath) else { return 127 }
        defer { try? log.close() }
        log.write(Data("$ \(display(shown, arguments))\n".utf8))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program.hasPrefix("/") ? program : "/usr/bin/env")
        process.arguments = program.hasPrefix("/") ? arguments : [program] + arguments
        process.currentDirectoryURL = repository
        process.standardOutput = log
        process.standardError = log
        do { try process.run() } catch {
            log.write(Data("cannot start: \(error)\n".utf8))
            return 127
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    mutating func forgetting(_ arguments: [String], log: String) -> Int32 {
        run(executable, arguments, shown: "forgetting", log: log)
    }

    mutating func script(_ arguments: [String], log: String) -> Int32? {
        guard let python else { return nil }
        return run(python, arguments, shown: "python3", log: log)
    }

    mutating func progress(_ title: String) {
        step += 1
        FileHandle.standardError.write(Data(String(format: "report: [%d/%d] %@ (%.0f s so far)\n", step, total, title, elapsed).utf8))
    }

    /// Rows of a CSV file the report wrote, as dictionaries.
    func table(_ relative: String) -> [[String: String]] {
        guard let text = try? String(contentsOfFile: path(relative), encoding: .utf8) else { return [] }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard let header = lines.first.map({ CSV.parseLine($0) }) else { return [] }
        return lines.dropFirst().map { line in
            Dictionary(zip(header, CSV.parseLine(line)), uniquingKeysWith: { a, _ in a })
        }
    }

    /// A reduced copy of an experiment file: its instances made absolute, some keys replaced.
    func experiment(_ name: String, replacing keys: [String: String], instances: [String]? = nil) throws -> String {
        let source = repository.appendingPathComponent("Experiments/\(name).yaml")
        var lines = try String(contentsOf: source, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines = lines.filter { !$0.hasPrefix("#") }
        var result: [String] = []
        var index = 0
        while index < lines.count {
            let line = lines[index]
            index += 1
            guard let colon = line.firstIndex(of: ":"), !line.hasPrefix(" "), !line.hasPrefix("-") else {
                result.append(line)
                continue
            }
            let key = String(line[..<colon])
            if key == "instances" {
                // An inline list, or a block list on the lines that follow.
                var listed = line[line.index(after: colon)...].trimmingCharacters(in: CharacterSet(charactersIn: " []"))
                    .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                while index < lines.count, lines[index].trimmingCharacters(in: .whitespaces).hasPrefix("- ") {
                    listed.append(String(lines[index].trimmingCharacters(in: .whitespaces).dropFirst(2)).trimmingCharacters(in: .whitespaces))
                    index += 1
                }
                let given = instances ?? listed.map { source.deletingLastPathComponent().appendingPathComponent($0).path }
                result.append("instances: [\(given.map { "\"\($0)\"" }.joined(separator: ", "))]")
            } else if let value = keys[key] {
                result.append("\(key): \(value)")
            } else {
                result.append(line)
            }
        }
        lines = result
        let target = path("experiments/\(name).yaml")
        try FileManager.default.createDirectory(atPath: path("experiments"), withIntermediateDirectories: true)
        try lines.joined(separator: "\n").write(toFile: target, atomically: true, encoding: .utf8)
        return target
    }

    /// A claim from a command's exit status (0: passed, else failed).
    func verdict(_ status: Int32) -> ReportClaim.Verdict { status == 0 ? .passed : .failed }

    /// Runs a plotting script, if Python with matplotlib is here; the picture's name relative to the report.
    mutating func plot(_ claim: inout ReportClaim, _ arguments: [String], picture: String, log: String) {
        guard let status = script(arguments, log: log) else {
            claim.figures.append(("picture", "skipped: no Python with matplotlib (bash .ci/setup --plots)"))
            return
        }
        if status == 0, FileManager.default.fileExists(atPath: path(picture)) {
            claim.files.append(picture)
        } else {
            claim.figures.append(("picture", "the plot failed (logs/\(log).log)"))
        }
    }

    func number(_ text: String?) -> Double? { text.flatMap { Double($0) } }

    /// The mean final ideal distance of `methods` in a sweep's summary.
    func meanIdealDistance(_ summary: String, _ methods: [String]) -> Double? {
        let values = table(summary).filter { methods.contains($0["method"] ?? "") }.compactMap { number($0["ideal_distance"]) }
        return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    /// Runs a (reduced) experiment as a sweep into `out`; on failure marks the claim failed, with the
    /// commands run since `first`, and returns false.
    mutating func sweep(_ claim: inout ReportClaim, _ name: String, replacing keys: [String: String] = [:], instances: [String]? = nil,
                        out: String, since first: Int) -> Bool {
        if let yaml = try? experiment(name, replacing: keys, instances: instances),
           forgetting(["sweep", yaml, "--out", path(out)], log: "\(name)-sweep") == 0 {
            return true
        }
        claim.verdict = .failed
        claim.note = "the sweep failed (logs/\(name)-sweep.log)"
        claim.commands = Array(commands[first...])
        return false
    }

    // MARK: The claims

    mutating func runAll() -> [ReportClaim] {
        var claims: [ReportClaim] = []
        for section in ReportSection.allCases where only.contains(section) {
            progress(section.title)
            switch section {
            case .setting: claims += setting()
            case .figure2: claims.append(figure2())
            case .theorem33: claims.append(theorem33())
            case .theorem41: claims += theorem41()
            case .maxright: claims.append(maxright())
            case .mutants: claims.append(mutants())
            case .figure3: claims.append(pareto())
            case .figure4: claims.append(maxrightK())
            case .digits: claims.append(digits())
            }
        }
        return claims
    }

    mutating func timed(_ body: (inout Self) -> ReportClaim) -> ReportClaim {
        let start = Date()
        var claim = body(&self)
        claim.seconds = Date().timeIntervalSince(start)
        return claim
    }

    mutating func setting() -> [ReportClaim] {
        let folder = repository.appendingPathComponent("Experiments/instances")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        return names.map { file in
            timed { r in
                let name = String(file.dropLast(5))
                var claim = ReportClaim(id: "setting-\(name)", section: "The setting",
                                        statement: "On \(name): exact gradients and Hessians match central differences, every Hessian is PSD (Prop. A.2), per-datum gradients obey Prop. A.1's bounds, and the convexity inequality holds")
                let points = r.quick ? "10" : "100"
                let status = r.forgetting(["check", "--instance", "Experiments/instances/\(file)", "--points", points], log: claim.id)
                claim.commands = [r.commands.last!]
                claim.verdict = r.verdict(status)
                claim.figures = [("random points", points)] + r.checkFigures(log: "logs/\(claim.id).log")
                if status != 0 { claim.note = "see logs/\(claim.id).log" }
                claim.files = ["logs/\(claim.id).log"]
                return claim
            }
        }
    }

    /// The worst value and the limit of each claim in a `check` log (its table's columns are separated by
    /// two or more spaces: claim, source, worst, limit, status, where).
    func checkFigures(log: String) -> [(String, String)] {
        guard let text = try? String(contentsOfFile: path(log), encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "  ", omittingEmptySubsequences: true).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count >= 5, fields[4] == "ok" || fields[4] == "FAIL", Double(fields[2]) != nil else { return nil }
            return (fields[0], "\(fields[2]) (limit \(fields[3]), \(fields[4]))")
        }
    }

    mutating func figure2() -> ReportClaim {
        timed { r in
            var claim = ReportClaim(id: "figure2", section: "Figure 2",
                                    statement: "On the paper's toy (Figure 2), Sequential's final distance to the ideal point is at least 3 times ALRIGHT's and MAXRIGHT's")
            var arguments = ["figure2", "--out", r.path("figure2")]
            if r.python == nil { arguments.append("--no-plot") }
            let status = r.forgetting(arguments, log: "figure2")
            claim.commands = [r.commands.last!]
            let rows = r.table("figure2/summary.csv")
            func distance(_ method: String) -> Double? { r.number(rows.first { $0["method"] == method }?["ideal_distance"]) }
            guard status == 0, let sequential = distance("sequential"), let alright = distance("alright"), let maxright = distance("maxright") else {
                claim.verdict = .failed
                claim.note = "figure2 did not finish (logs/figure2.log)"
                return claim
            }
            claim.figures = [("Sequential ideal distance", fmt(sequential)), ("ALRIGHT", fmt(alright)), ("MAXRIGHT", fmt(maxright)),
                             ("ratio to the larger", fmt(sequential / max(alright, maxright), 2))]
            if let gap = r.number(rows.first { $0["method"] == "maxright" }?["gap_max"]) { claim.figures.append(("MAXRIGHT gap_max", fmt(gap, 3))) }
            claim.verdict = sequential >= 3 * max(alright, maxright) ? .passed : .failed
            claim.files = ["figure2/summary.csv", "figure2/trajectories.csv"]
            if FileManager.default.fileExists(atPath: r.path("figure2/figure2.png")) { claim.files.append("figure2/figure2.png") }
            return claim
        }
    }

    mutating func theorem33() -> ReportClaim {
        timed { r in
            var claim = ReportClaim(id: "theorem33", section: "Theorem 3.3",
                                    statement: "Sequential's G_mix stays above c(lambda) past T0(lambda), its output stays in the certified envelope [L(T), U(T)] and its gap above the certified floor, for both orders, both rates and phase schedules, and the threshold variant")
            var arguments = ["verify", "theorem33", "--csv", r.path("theorem33/floors.csv")]
            if r.quick { arguments += ["--lambdas", "0.1,0.3,0.5,0.7,0.9", "--horizons", "10,100,1000,10000", "--alright-steps", "10000"] }
            try? FileManager.default.createDirectory(atPath: r.path("theorem33"), withIntermediateDirectories: true)
            let status = r.forgetting(arguments, log: "theorem33")
            claim.verdict = r.verdict(status)
            let rows = r.table("theorem33/floors.csv")
            let checked = rows.filter { $0["checked"] == "true" }.count
            let sharp = rows.filter { ($0["variant"] ?? "").contains("constant") && !($0["variant"] ?? "").contains("threshold") && Int($0["horizon"] ?? "") ?? 0 >= 1000 }
                .compactMap { r.number($0["sharpness"]) }
            claim.figures = [("cells", "\(rows.count)"), ("checked past T0", "\(checked)"),
                             ("failed cells", "\(rows.filter { $0["passed"] == "false" }.count)"),
                             ("outside the envelope", "\(rows.filter { $0["inside_envelope"] == "false" }.count)")]
            if let worst = sharp.min() { claim.figures.append(("smallest sharpness, constant rate, T >= 1000", fmt(worst, 3))) }
            claim.files = ["theorem33/floors.csv"]
            // The picture: Sequential and ALRIGHT over T, with the floors.
            let steps = r.quick ? "[10, 100, 1000, 10000]" : "[10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000, 300000]"
            if let yaml = try? r.experiment("theorem33", replacing: ["steps": steps]),
               r.forgetting(["sweep", yaml, "--out", r.path("theorem33/sweep")], log: "theorem33-sweep") == 0 {
                r.plot(&claim, ["Plots/theorem33.py", r.path("theorem33/sweep"), r.path("theorem33/floors.csv")],
                       picture: "theorem33/sweep/theorem33.png", log: "theorem33-plot")
                claim.files.append("theorem33/sweep/summary.csv")
            } else {
                claim.figures.append(("picture", "its sweep failed (logs/theorem33-sweep.log)"))
            }
            claim.commands = Array(r.commands.suffix(from: r.commands.firstIndex { $0.contains("theorem33") } ?? 0))
            if claim.verdict == .failed { claim.note = "see logs/theorem33.log" }
            return claim
        }
    }

    mutating func theorem41() -> [ReportClaim] {
        var claims: [ReportClaim] = []
        claims.append(timed { r in
            var claim = ReportClaim(id: "theorem41", section: "Theorem 4.1",
                                    statement: "ALRIGHT's mean gap stays under the explicit O(log T / sqrt T) bound; on the lower-bound instance the Monte Carlo means match the exactly computed expectation; at the largest horizon, where the transient has died out, the mean gap matches alpha_T tr(Sigma*)/4")
            try? FileManager.default.createDirectory(atPath: r.path("theorem41"), withIntermediateDirectories: true)
            var arguments = ["verify", "theorem41", "--csv", r.path("theorem41/bounds.csv")]
            if r.quick { arguments += ["--seeds", "30", "--exact-seeds", "300", "--horizons", "10,100,1000,10000"] }
            let first = r.commands.count
            let status = r.forgetting(arguments, log: "theorem41")
            claim.verdict = r.verdict(status)
            let rows = r.table("theorem41/bounds.csv")
            let ratios = rows.compactMap { row -> Double? in
                guard let m = r.number(row["mean_gap"]), let b = r.number(row["paper_bound"]), b > 0 else { return nil }
                return m / b
            }
            let asymptotic = rows.filter { $0["asymptotic_status"] == "passed" || $0["asymptotic_status"] == "failed" }
            claim.figures = [("cells", "\(rows.count)"), ("largest mean / paper bound", fmt(ratios.max() ?? 0, 3)),
                             ("cells with an exact expectation", "\(rows.filter { $0["exact_match"] != nil && $0["exact_match"] != "" }.count)"),
                             ("exact mismatches", "\(rows.filter { $0["exact_match"] == "false" }.count)"),
                             ("asymptotic cells checked", "\(asymptotic.count)"),
                             ("their mean / prediction", asymptotic.compactMap { r.number($0["asymptotic_ratio"]) }.map { fmt($0, 3) }.joined(separator: ", ")),
                             ("not yet asymptotic", "\(rows.filter { $0["asymptotic_status"] == "not_yet_asymptotic" }.count)")]
            claim.files = ["theorem41/bounds.csv"]
            let steps = r.quick ? "[9, 99, 999, 9999]" : "[9, 99, 999, 9999, 99999]"
            if let yaml = try? r.experiment("theorem41", replacing: ["steps": steps, "seeds": r.quick ? "{count: 20}" : "{count: 100}"]),
               r.forgetting(["sweep", yaml, "--out", r.path("theorem41/sweep")], log: "theorem41-sweep") == 0 {
                r.plot(&claim, ["Plots/theorem41.py", r.path("theorem41/sweep"), r.path("theorem41/bounds.csv")],
                       picture: "theorem41/sweep/theorem41.png", log: "theorem41-plot")
                claim.files.append("theorem41/sweep/summary.csv")
            } else {
                claim.figures.append(("picture", "its sweep failed (logs/theorem41-sweep.log)"))
            }
            claim.commands = Array(r.commands[first...])
            if claim.verdict == .failed { claim.note = "see logs/theorem41.log" }
            return claim
        })
        claims.append(timed { r in
            var claim = ReportClaim(id: "theorem41-far-start", section: "Theorem 4.1",
                                    statement: "From a far start (theta_1 . a = -20 on the lower-bound instance) the check still passes and the bound is no longer loose: the largest mean / bound ratio is at least 0.1")
            var arguments = ["verify", "theorem41", "--instance", "Experiments/instances/lower-bound.json", "--init=-10,10",
                             "--csv", r.path("theorem41/far-start.csv")]
            arguments += r.quick ? ["--exact-seeds", "200", "--horizons", "10,100,1000,10000"] : ["--horizons", "10,100,1000,10000,100000"]
            let status = r.forgetting(arguments, log: "theorem41-far-start")
            claim.commands = [r.commands.last!]
            let ratios = r.table("theorem41/far-start.csv").compactMap { row -> Double? in
                guard let m = r.number(row["mean_gap"]), let b = r.number(row["paper_bound"]), b > 0 else { return nil }
                return m / b
            }
            let largest = ratios.max() ?? 0
            claim.figures = [("largest mean / paper bound", fmt(largest, 3))]
            claim.verdict = status == 0 && largest >= 0.1 ? .passed : .failed
            if claim.verdict == .failed { claim.note = status == 0 ? "the largest ratio is below 0.1" : "see logs/theorem41-far-start.log" }
            claim.files = ["theorem41/far-start.csv"]
            return claim
        })
        return claims
    }

    mutating func maxright() -> ReportClaim {
        timed { r in
            var claim = ReportClaim(id: "maxright", section: "MAXRIGHT's own target",
                                    statement: "MAXRIGHT with alpha0/sqrt(t) drives gap_max, its gap to its own target min max{lambda gap_DPO, (1 - lambda) gap_SFT}, below 1e-3 and below its early values (measured: the paper proves no rate)")
            try? FileManager.default.createDirectory(atPath: r.path("maxright"), withIntermediateDirectories: true)
            // The default horizons (up to 10^6) in both modes: gap_max reaches 1e-3 only late on some rows.
            let arguments = ["verify", "maxright", "--csv", r.path("maxright/maxright.csv")]
            let status = r.forgetting(arguments, log: "maxright")
            claim.commands = [r.commands.last!]
            claim.verdict = r.verdict(status)
            let rows = r.table("maxright/maxright.csv")
            // The final gap_max of each (instance, lambda): its row at the largest horizon.
            let largest = rows.compactMap { Int($0["horizon"] ?? "") }.max()
            let finals = rows.filter { Int($0["horizon"] ?? "") == largest }.compactMap { r.number($0["gap_max"]) }
            if let lo = finals.min(), let hi = finals.max(), let largest {
                claim.figures = [("(instance, lambda) rows", "\(finals.count)"), ("final gap_max at T = \(largest)", "\(fmt(lo, 3)) to \(fmt(hi, 3))")]
            }
            claim.files = ["maxright/maxright.csv"]
            if claim.verdict == .failed { claim.note = "see logs/maxright.log" }
            return claim
        }
    }

    mutating func mutants() -> ReportClaim {
        timed { r in
            var claim = ReportClaim(id: "mutants", section: "How strong the checks are",
                                    statement: "Every deliberately wrong method (13: Sequential, ALRIGHT and MAXRIGHT mistakes) is rejected by at least one check, and the built-in methods pass every check")
            try? FileManager.default.createDirectory(atPath: r.path("mutants"), withIntermediateDirectories: true)
            let status = r.forgetting(["verify", "mutants", "--csv", r.path("mutants/mutants.csv")] + (r.quick ? ["--quick"] : []), log: "mutants")
            claim.commands = [r.commands.last!]
            claim.verdict = r.verdict(status)
            let rows = r.table("mutants/mutants.csv")
            claim.figures = rows.map { ($0["method"] ?? "?", ($0["rejected_by"] ?? "").isEmpty ? "passes every check" : "rejected by \($0["rejected_by"]!)") }
            claim.files = ["mutants/mutants.csv"]
            if claim.verdict == .failed { claim.note = "see logs/mutants.log" }
            return claim
        }
    }

    mutating func pareto() -> ReportClaim {
        timed { r in
            var claim = ReportClaim(id: "figure3-analogue", section: "Figures 3 and 4 analogues",
                                    statement: "On an over-parameterized instance, averaged over lambda, Sequential ends farther from the ideal point than ALRIGHT and MAXRIGHT (Figure 3)")
            let first = r.commands.count
            // The whole experiment in both modes (under a second): fewer steps leave Sequential's first phase unfinished.
            guard r.sweep(&claim, "pareto", out: "pareto", since: first) else { return claim }
            func mean(_ methods: [String]) -> Double? { r.meanIdealDistance("pareto/summary.csv", methods) }
            let sequential = mean(["sequential", "sequential-sft-first"]), alright = mean(["alright"]), maxright = mean(["maxright"])
            claim.figures = [("mean ideal distance, Sequential", sequential.map { fmt($0, 4) } ?? "-"),
                             ("ALRIGHT", alright.map { fmt($0, 4) } ?? "-"), ("MAXRIGHT", maxright.map { fmt($0, 4) } ?? "-")]
            if let s = sequential, let a = alright, let m = maxright { claim.verdict = s > a && s > m ? .passed : .failed } else { claim.verdict = .failed }
            claim.files = ["pareto/summary.csv"]
            if r.forgetting(["front", "--instance", "Experiments/instances/overparameterized.json", "--points", r.quick ? "11" : "41",
                             "--out", r.path("pareto/front.csv")], log: "pareto-front") == 0 {
                r.plot(&claim, ["Plots/pareto.py", r.path("pareto"), r.path("pareto/front.csv")], picture: "pareto/pareto.png", log: "pareto-plot")
                claim.files.append("pareto/front.csv")
            } else {
                claim.figures.append(("picture", "the front failed (logs/pareto-front.log)"))
            }
            claim.commands = Array(r.commands[first...])
            return claim
        }
    }

    mutating func maxrightK() -> ReportClaim {
        timed { r in
            var claim = ReportClaim(id: "figure4-analogue", section: "Figures 3 and 4 analogues",
                                    statement: "Memory-efficient MAXRIGHT evaluating every k = 1000 steps ends farther from the ideal point than with k = 1 (Figure 4)")
            let first = r.commands.count
            guard r.sweep(&claim, "maxright-k", out: "maxright-k", since: first) else { return claim }
            let rows = r.table("maxright-k/summary.csv")
            func distance(_ k: String) -> Double? {
                r.number(rows.first { $0["eval_every"] == k && ($0["method"] == "maxright-stale" || $0["method"] == "maxright") }?["ideal_distance"])
            }
            let k1 = distance("1"), k1000 = distance("1000")
            claim.figures = [("ideal distance, k = 1", k1.map { fmt($0, 4) } ?? "-"), ("k = 1000", k1000.map { fmt($0, 4) } ?? "-")]
            claim.verdict = (k1 != nil && k1000 != nil && k1000! > k1!) ? .passed : .failed
            claim.files = ["maxright-k/summary.csv"]
            r.plot(&claim, ["Plots/maxright_k.py", r.path("maxright-k")], picture: "maxright-k/maxright-k.png", log: "maxright-k-plot")
            claim.commands = Array(r.commands[first...])
            return claim
        }
    }

    mutating func digits() -> ReportClaim {
        timed { r in
            var claim = ReportClaim(id: "real-data-digits", section: "Real data",
                                    statement: "On scikit-learn's digits (d = 640, K = 10; SFT on true labels, DPO from an annotator who swaps 1<->8 and 3<->9), Sequential ends farther from the ideal point than Mix, ALRIGHT and MAXRIGHT, averaged over lambda")
            let first = r.commands.count
            guard let python = r.python, Plotting.run(python, ["-c", "import sklearn"]).status == 0 else {
                claim.verdict = .skipped
                claim.note = "scikit-learn is not installed (bash .ci/setup --data)"
                return claim
            }
            let data = r.path("digits/data")
            guard r.script(["Experiments/data/digits.py", "--out", data], log: "digits-data") == 0 else {
                claim.verdict = .failed
                claim.note = "the data script failed (logs/digits-data.log)"
                claim.commands = Array(r.commands[first...])
                return claim
            }
            let keys = r.quick ? ["lambdas": "[0.25, 0.5, 0.75]", "steps": "[300]", "record": "every:20"] : [:]
            // Relative to the experiment file (OUT/experiments/digits.yaml), so that it names OUT's data wherever OUT is.
            guard r.sweep(&claim, "digits", replacing: keys, instances: ["../digits/data"], out: "digits/sweep", since: first) else { return claim }
            func mean(_ methods: [String]) -> Double? { r.meanIdealDistance("digits/sweep/summary.csv", methods) }
            let sequential = mean(["sequential", "sequential-sft-first"])
            let others = ["mix", "alright", "maxright"].map { mean([$0]) }
            claim.figures = [("mean ideal distance, Sequential", sequential.map { fmt($0, 4) } ?? "-")]
                + zip(["Mix", "ALRIGHT", "MAXRIGHT"], others).map { ($0, $1.map { fmt($0, 4) } ?? "-") }
            if let s = sequential, others.allSatisfy({ $0 != nil }) { claim.verdict = others.allSatisfy { s > $0! } ? .passed : .failed } else { claim.verdict = .failed }
            claim.files = ["digits/sweep/summary.csv"]
            if r.forgetting(["front", "--instance", data, "--points", r.quick ? "5" : "21", "--out", r.path("digits/front.csv")], log: "digits-front") == 0 {
                r.plot(&claim, ["Plots/digits.py", r.path("digits/sweep"), r.path("digits/front.csv"), data], picture: "digits/sweep/digits.png", log: "digits-plot")
                claim.files.append("digits/front.csv")
            } else {
                claim.figures.append(("picture", "the front failed (logs/digits-front.log)"))
            }
            // The held-out accuracies the plot script prints (its table: method, lambda, ..., accuracy, agreement).
            if let log = try? String(contentsOfFile: r.path("logs/digits-plot.log"), encoding: .utf8) {
                let lines = log.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
                if let header = lines.first(where: { $0.first == "method" && $0.contains("accuracy") }),
                   let a = header.firstIndex(of: "accuracy") {
                    for fields in lines where fields.count == header.count && fields[1] == "0.5" {
                        claim.figures.append(("held-out accuracy at lambda = 0.5, \(fields[0])", fields[a]))
                    }
                }
            }
            claim.commands = Array(r.commands[first...])
            // The 60 MB instance is regenerated by the data command; it is not kept in the report.
            try? FileManager.default.removeItem(atPath: data)
            claim.figures.append(("instance", "digits/data is not kept (about 60 MB): the first command above regenerates it"))
            return claim
        }
    }

    /// The staging folder's path, in the files the commands wrote there (logs, the sweeps' manifests and
    /// summaries, the experiment files), replaced by the report's final folder: they then name files that exist.
    func relocate(to target: URL) throws {
        let from = folder.path, to = target.path
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) else { return }
        for case let url as URL in walker where ["csv", "json", "yaml", "log"].contains(url.pathExtension) {
            guard let data = try? Data(contentsOf: url), data.range(of: Data(from.utf8)) != nil else { continue }
            let text = String(decoding: data, as: UTF8.self).replacingOccurrences(of: from, with: to)
            try Data(text.utf8).write(to: url, options: .atomic)
        }
    }

    // MARK: Provenance

    func provenance() -> [(String, String)] {
        let git = Plotting.run("git", ["-C", repository.path, "rev-parse", "HEAD"])
        let dirty = Plotting.run("git", ["-C", repository.path, "status", "--porcelain", "--untracked-files=no"])
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":").last?.trimmingCharacters(in: .whitespaces)
        let formatter = ISO8601DateFormatter()
        var uts = utsname()
        uname(&uts)
        func text<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return [
            ("version", toolkitVersion),
            ("git commit", git.status == 0 ? git.output.trimmingCharacters(in: .whitespacesAndNewlines)
                + (dirty.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? "" : " (with uncommitted changes)") : "unknown"),
            ("date", formatter.string(from: started)),
            ("machine", "\(text(uts.sysname)) \(text(uts.release)) \(text(uts.machine)), \(cpu ?? "unknown CPU"), \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory >> 30) GiB"),
            ("mode", (quick ? "quick (reduced grids)" : "full") + (only.count < ReportSection.allCases.count ? ", sections \(only.map(\.rawValue).joined(separator: ", "))" : "")),
            ("python", python ?? "none with matplotlib"),
            ("wall time", String(format: "%.1f s", elapsed)),
        ]
    }
}
