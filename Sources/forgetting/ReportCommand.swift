import ArgumentParser
import ConvexForgetting
import Foundation

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Rerun every claim the toolkit checks and write a self-contained report with verdicts, figures and provenance.",
        discussion: """
        Runs, as separate `forgetting` commands (each one listed in the report, so any can be rerun alone): \
        the setting's claims on every shipped instance, Figure 2, Theorem 3.3 (floors and envelopes), \
        Theorem 4.1 (bound, exact expectation, asymptotic constant, far start), MAXRIGHT's own target, the \
        mutation table (which check rejects which wrong method), the Figure 3 and 4 analogues and the \
        real-data (digits) results. Writes DIR/REPORT.md, DIR/report.html (figures beside it), \
        DIR/verdicts.json (one entry per claim: id, statement, command, verdict, figures), every CSV behind \
        them, each command's log in DIR/logs, and provenance (version, git commit, machine, date, commands). \
        --quick uses reduced grids (about a minute on 2 cores; the full report takes about 9 minutes). \
        --only runs some of the sections. Figures need \
        matplotlib (bash .ci/setup --plots), the real-data section scikit-learn (bash .ci/setup --data); \
        without them those parts are marked skipped. The report is written to a temporary folder and renamed \
        to DIR when complete. Exit status 1 if any verdict fails.
        """)

    @Option(help: ArgumentHelp("Output folder, created with its parents (must not exist, or be a report replaced with --force).", valueName: "dir"))
    var out: String

    @Flag(help: "Reduced grids: about a minute on 2 cores.")
    var quick = false

    @Flag(help: "Replace an existing report folder.")
    var force = false

    @Option(help: ArgumentHelp("Comma-separated sections to run, of: \(ReportSection.names) (default: all).", valueName: "sections"))
    var only: String?

    /// The sections asked for, in the report's order.
    var sections: [ReportSection] {
        get throws {
            guard let only else { return ReportSection.allCases }
            var asked: Set<ReportSection> = []
            for name in only.split(separator: ",", omittingEmptySubsequences: false) {
                let name = name.trimmingCharacters(in: .whitespaces)
                guard let section = ReportSection(rawValue: name) else {
                    throw ValidationError("--only: unknown section '\(name)' (expected some of \(ReportSection.names))")
                }
                asked.insert(section)
            }
            return ReportSection.allCases.filter(asked.contains)
        }
    }

    func validate() throws {
        guard !out.isEmpty else { throw ValidationError("--out must not be empty") }
        _ = try sections
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: out, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw ValidationError("--out: \(out) exists and is not a folder") }
            guard force else { throw ValidationError("--out: \(out) exists (use --force to replace it)") }
            guard fm.fileExists(atPath: URL(fileURLWithPath: out).appendingPathComponent("verdicts.json").path)
                || ((try? fm.contentsOfDirectory(atPath: out)) ?? ["x"]).isEmpty else {
                throw ValidationError("--out: \(out) is not a report folder (no verdicts.json); --force replaces only reports")
            }
        }
        // Missing parent folders are created, in the nearest one that exists.
        var parent = URL(fileURLWithPath: out).standardizedFileURL.deletingLastPathComponent()
        while !fm.fileExists(atPath: parent.path), parent.path != "/" { parent.deleteLastPathComponent() }
        guard fm.fileExists(atPath: parent.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("--out: \(parent.path) is not a folder")
        }
        guard fm.isWritableFile(atPath: parent.path) else { throw ValidationError("--out: cannot write in \(parent.path)") }
    }

    func run() throws {
        guard let repository = Plotting.repository() else {
            throw CommandFailure("report: cannot find the repository (a folder with Plots/ and Experiments/) from here or the executable")
        }
        let target = URL(fileURLWithPath: out).standardizedFileURL
        let staging = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).tmp-\(getpid())")
        try? FileManager.default.removeItem(at: staging)
        do { try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true) } catch {
            throw CommandFailure("--out: cannot create \(staging.path): \(error.localizedDescription)")
        }
        OutputCleanup.registerDirectory(staging.path)
        var runner = ReportRunner(repository: repository, folder: staging, quick: quick, only: try sections)
        let claims = runner.runAll()
        let writer = ReportWriter(claims: claims, provenance: runner.provenance(), quick: quick, repository: repository.path)
        do {
            try runner.relocate(to: target)
            try writer.write(to: staging)
            if FileManager.default.fileExists(atPath: target.path) { try FileManager.default.removeItem(at: target) }
            try FileManager.default.moveItem(at: staging, to: target)
        } catch {
            throw CommandFailure("report: cannot write \(target.path): \(error.localizedDescription)")
        }
        OutputCleanup.unregisterDirectory(staging.path)
        let failed = claims.filter { $0.verdict == .failed }
        let skipped = claims.filter { $0.verdict == .skipped }
        print("wrote \(out)/REPORT.md, report.html and verdicts.json: \(claims.count) claims, \(claims.count - failed.count - skipped.count) passed, \(failed.count) failed, \(skipped.count) skipped (\(fmt(runner.elapsed, 1)) s)")
        fflush(nil)
        if !failed.isEmpty { throw CommandFailure("report: \(failed.count) of \(claims.count) verdicts failed: \(failed.map(\.id).joined(separator: ", "))") }
    }
}
