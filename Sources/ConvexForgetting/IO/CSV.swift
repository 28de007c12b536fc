import Foundation

/// Tidy CSV output: one observation per row, snake_case columns, numbers in Swift's shortest round-trip
/// form (so a parsed value equals the computed one bit for bit).
public enum CSV {
    public static func number(_ x: Double) -> String {
        x.isNaN ? "nan" : "\(x)"
    }

    /// A field, quoted when it holds a comma, quote or newline.
    public static func field(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    public static func line(_ fields: [String]) -> String { fields.joined(separator: ",") + "\n" }

    /// Splits one CSV line (the quoting of `field`).
    public static func parseLine(_ line: Substring) -> [String] {
        var fields: [String] = []
        var current = ""
        var quoted = false
        var iterator = line.makeIterator()
        while let c = iterator.next() {
            if quoted {
                if c == "\"" {
                    quoted = false
                } else {
                    current.append(c)
                }
            } else if c == "\"" {
                if current.isEmpty { quoted = true } else { current.append(c) }
            } else if c == "," {
                fields.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        fields.append(current)
        return fields
    }
}

/// The one way every CSV of the toolkit is written: a fixed list of snake_case columns and rows of
/// exactly as many fields (train, figure2, sweep, verify, front, landscape).
public struct CSVTable: Sendable, Equatable {
    public let columns: [String]

    public init(_ columns: [String]) {
        self.columns = columns
    }

    /// The header line.
    public var header: String { CSV.line(columns) }

    /// One row's line; the row must have one field per column.
    public func line(_ fields: [String]) -> String {
        precondition(fields.count == columns.count, "a row of \(fields.count) fields for \(columns.count) columns")
        return CSV.line(fields)
    }

    /// The whole table as text.
    public func text(_ rows: [[String]]) -> String {
        rows.reduce(into: header) { $0 += line($1) }
    }

    /// Writes the whole table to `path` (temporary name, then rename).
    public func write(_ rows: [[String]], to path: String) throws(OutputError) {
        let file = try StreamingFile(path: path)
        try file.write(header)
        for row in rows { try file.write(line(row)) }
        try file.commit()
    }
}
