import ConvexForgetting
import Foundation

/// Writes a report's REPORT.md, report.html, verdicts.json and commands.sh from its claims.
struct ReportWriter {
    let claims: [ReportClaim]
    let provenance: [(String, String)]
    let quick: Bool
    /// The repository the report ran from: the experiment files name its instances by absolute paths.
    var repository = ""

    var sections: [String] { claims.reduce(into: [String]()) { if !$0.contains($1.section) { $0.append($1.section) } } }

    func write(to folder: URL) throws {
        try markdown().write(to: folder.appendingPathComponent("REPORT.md"), atomically: true, encoding: .utf8)
        try html().write(to: folder.appendingPathComponent("report.html"), atomically: true, encoding: .utf8)
        try json().write(to: folder.appendingPathComponent("verdicts.json"), atomically: true, encoding: .utf8)
        try script().write(to: folder.appendingPathComponent("commands.sh"), atomically: true, encoding: .utf8)
    }

    /// commands.sh: the commands in order, runnable from a repository into a new folder OUT (the reduced
    /// experiment files are copied there from the report, naming that repository's instances; the folders the
    /// commands write into are made first).
    func script() -> String {
        let commands = claims.flatMap(\.commands)
        let experiments = commands.contains { $0.contains("OUT/experiments/") }
        var folders: [String] = experiments ? ["experiments"] : []
        for command in commands {
            for word in command.split(separator: " ") where word.hasPrefix("OUT/") {
                let parent = (String(word.dropFirst(4)) as NSString).deletingLastPathComponent
                if !parent.isEmpty, !folders.contains(parent) { folders.append(parent) }
            }
        }
        func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        var text = """
        #!/usr/bin/env bash
        # The commands behind this report, in order. Run from the repository, with OUT a new folder, `forgetting`
        # on the PATH (or FORGETTING=path/to/forgetting) and python3 with matplotlib (or PYTHON=path/to/python):
        #   OUT=/tmp/again bash path/to/this/report/commands.sh
        set -euo pipefail
        OUT=${OUT:?set OUT to a new folder}
        if [ -n "$(ls -A -- "$OUT" 2>/dev/null)" ]; then echo "commands.sh: OUT ($OUT) is not empty; choose a new folder" >&2; exit 1; fi
        if [ -n "${FORGETTING:-}" ]; then forgetting() { "$FORGETTING" "$@"; }; fi
        if [ -n "${PYTHON:-}" ]; then python3() { "$PYTHON" "$@"; }; export FORGETTING_PYTHON=$PYTHON; fi

        """
        if !folders.isEmpty { text += "mkdir -p \(folders.map { "\"$OUT\"/\($0)" }.joined(separator: " "))\n" }
        if experiments {
            text += """
            # The reduced experiment files, their instances moved from the repository that made the report to this one.
            report=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" >/dev/null && pwd)
            origin=\(quoted(repository + "/")) here="$PWD/"
            for file in "$report"/experiments/*.yaml; do
              text=$(<"$file")
              printf '%s\\n' "${text//"\\"$origin"/"\\"$here"}" >"$OUT/experiments/${file##*/}"
            done

            """
        }
        return text + commands.map { $0.replacingOccurrences(of: "OUT/", with: "\"$OUT\"/") }.joined(separator: "\n") + "\n"
    }

    var counts: (passed: Int, failed: Int, skipped: Int) {
        (claims.filter { $0.verdict == .passed }.count, claims.filter { $0.verdict == .failed }.count, claims.filter { $0.verdict == .skipped }.count)
    }

    func isPicture(_ file: String) -> Bool { file.hasSuffix(".png") }

    func markdown() -> String {
        let c = counts
        var text = "# ConvexForgetting: the paper's claims, rerun\n\n"
        text += "\(claims.count) claims: **\(c.passed) passed, \(c.failed) failed, \(c.skipped) skipped**\(quick ? " (quick: reduced grids)" : "").\n"
        text += "Derivations and constants: THEORY.md in the repository. Every command is in `commands.sh`; its output in `logs/`.\n\n"
        text += "| claim | verdict | seconds |\n| --- | --- | --- |\n"
        for claim in claims { text += "| [\(claim.id)](#\(claim.id)) | \(claim.verdict.rawValue.uppercased()) | \(String(format: "%.1f", claim.seconds)) |\n" }
        for section in sections {
            text += "\n## \(section)\n"
            for claim in claims where claim.section == section {
                text += "\n### <a id=\"\(claim.id)\"></a>\(claim.id): \(claim.verdict.rawValue.uppercased())\n\n\(claim.statement).\n"
                if !claim.note.isEmpty { text += "\n*\(claim.note)*\n" }
                if !claim.figures.isEmpty {
                    text += "\n| figure | value |\n| --- | --- |\n"
                    for (name, value) in claim.figures {
                        text += "| \(name.replacingOccurrences(of: "|", with: "\\|")) | \(value.replacingOccurrences(of: "|", with: "\\|")) |\n"
                    }
                }
                for file in claim.files where isPicture(file) { text += "\n![\(claim.id)](\(file))\n" }
                let data = claim.files.filter { !isPicture($0) }
                if !data.isEmpty { text += "\nFiles: " + data.map { "[\($0)](\($0))" }.joined(separator: ", ") + "\n" }
                text += "\n```sh\n" + claim.commands.joined(separator: "\n") + "\n```\n"
            }
        }
        text += "\n## Provenance\n\n| | |\n| --- | --- |\n"
        for (key, value) in provenance { text += "| \(key) | \(value) |\n" }
        return text
    }

    func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    func html() -> String {
        let c = counts
        var body = "<h1>ConvexForgetting: the paper's claims, rerun</h1>\n"
        body += "<p class=\"summary\">\(claims.count) claims: <span class=\"passed\">\(c.passed) passed</span>, <span class=\"failed\">\(c.failed) failed</span>, <span class=\"skipped\">\(c.skipped) skipped</span>\(quick ? " (quick: reduced grids)" : "").</p>\n"
        body += "<table class=\"index\"><tr><th>claim</th><th>verdict</th><th>seconds</th></tr>\n"
        for claim in claims {
            body += "<tr><td><a href=\"#\(claim.id)\">\(escape(claim.id))</a></td><td class=\"\(claim.verdict.rawValue)\">\(claim.verdict.rawValue)</td><td>\(String(format: "%.1f", claim.seconds))</td></tr>\n"
        }
        body += "</table>\n"
        for section in sections {
            body += "<h2>\(escape(section))</h2>\n"
            for claim in claims where claim.section == section {
                body += "<div class=\"claim\" id=\"\(claim.id)\"><h3>\(escape(claim.id)) <span class=\"badge \(claim.verdict.rawValue)\">\(claim.verdict.rawValue)</span></h3>\n"
                body += "<p>\(escape(claim.statement)).</p>\n"
                if !claim.note.isEmpty { body += "<p class=\"note\">\(escape(claim.note))</p>\n" }
                if !claim.figures.isEmpty {
                    body += "<table>" + claim.figures.map { "<tr><td>\(escape($0.0))</td><td>\(escape($0.1))</td></tr>" }.joined() + "</table>\n"
                }
                for file in claim.files where isPicture(file) { body += "<p><img src=\"\(escape(file))\" alt=\"\(escape(claim.id))\"></p>\n" }
                let data = claim.files.filter { !isPicture($0) }
                if !data.isEmpty { body += "<p class=\"files\">Files: " + data.map { "<a href=\"\(escape($0))\">\(escape($0))</a>" }.joined(separator: ", ") + "</p>\n" }
                body += "<pre>\(escape(claim.commands.joined(separator: "\n")))</pre></div>\n"
            }
        }
        body += "<h2>Provenance</h2><table>" + provenance.map { "<tr><td>\(escape($0.0))</td><td>\(escape($0.1))</td></tr>" }.joined() + "</table>\n"
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>ConvexForgetting report</title>
        <style>
        body { font-family: system-ui, sans-serif; max-width: 62rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; color: #222; }
        h1 { font-size: 1.6rem; } h2 { border-bottom: 1px solid #ccc; margin-top: 2.2rem; } h3 { margin-bottom: 0.3rem; }
        table { border-collapse: collapse; margin: 0.5rem 0; } td, th { border: 1px solid #ddd; padding: 0.2rem 0.6rem; font-size: 0.9rem; text-align: left; }
        .passed { color: #1a7f37; font-weight: 600; } .failed { color: #cf222e; font-weight: 600; } .skipped { color: #9a6700; font-weight: 600; }
        .badge { font-size: 0.8rem; padding: 0.1rem 0.5rem; border-radius: 0.6rem; border: 1px solid currentColor; }
        pre { background: #f6f8fa; padding: 0.6rem; overflow-x: auto; font-size: 0.8rem; }
        img { max-width: 100%; border: 1px solid #eee; } .note { font-style: italic; } .claim { margin-bottom: 1.5rem; }
        </style></head><body>
        \(body)</body></html>

        """
    }

    func json() -> String {
        func string(_ s: String) -> String { JSONText.quoted(s) }
        /// Figure names as object keys: repeated ones numbered.
        func keyed(_ figures: [(String, String)]) -> [(String, String)] {
            var seen: [String: Int] = [:]
            return figures.map { name, value in
                seen[name, default: 0] += 1
                return (seen[name]! == 1 ? name : "\(name) (\(seen[name]!))", value)
            }
        }
        let entries = claims.map { claim in
            "  {" + [
                "\"id\": \(string(claim.id))", "\"section\": \(string(claim.section))", "\"statement\": \(string(claim.statement))",
                "\"command\": \(string(claim.commands.joined(separator: "\n")))", "\"verdict\": \(string(claim.verdict.rawValue))",
                "\"note\": \(string(claim.note))",
                "\"figures\": {" + keyed(claim.figures).map { "\(string($0.0)): \(string($0.1))" }.joined(separator: ", ") + "}",
                "\"files\": [" + claim.files.map(string).joined(separator: ", ") + "]",
                "\"seconds\": \(String(format: "%.3f", claim.seconds))",
            ].joined(separator: ", ") + "}"
        }
        let provenanceFields = provenance.map { "\(string($0.0)): \(string($0.1))" }.joined(separator: ", ")
        return "{\n\"provenance\": {\(provenanceFields)},\n\"claims\": [\n" + entries.joined(separator: ",\n") + "\n]\n}\n"
    }
}
