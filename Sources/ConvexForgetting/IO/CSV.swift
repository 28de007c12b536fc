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

/// Streams a file to a temporary name beside the target and renames it into place on `commit()`; if
/// the writer is dropped without committing, the temporary file is removed and the target is untouched.
public final class StreamingFile {
    public let path: String
    private let temporary: String
    private var handle: UnsafeMutablePointer<FILE>?

    public init(path: String) throws(OutputError) {
        self.path = path
        let url = URL(fileURLWithPath: path)
        temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp").path
        guard let h = fopen(temporary, "w") else {
            throw OutputError(path: path, message: "cannot create a file in its directory (errno \(errno))")
        }
        handle = h
    }

    public func write(_ text: String) {
        guard let handle else { return }
        fputs(text, handle)
    }

    public func write(_ data: Data) {
        guard let handle else { return }
        data.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, handle) }
    }

    public func commit() throws(OutputError) {
        guard let h = handle else { return }
        handle = nil
        let failed = ferror(h) != 0
        guard fclose(h) == 0, !failed else {
            unlink(temporary)
            throw OutputError(path: path, message: "write failed (disk full?)")
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw OutputError(path: path, message: "cannot rename the temporary file into place (errno \(errno))")
        }
    }

    deinit {
        if let handle {
            fclose(handle)
            unlink(temporary)
        }
    }
}
