import Foundation

/// A parsed JSON document. The parser is strict JSON (RFC 8259) with one extension: the bare words
/// `NaN`, `Infinity` and `-Infinity` (which Python's `json.dump` writes) parse as numbers, so that
/// validation can reject them with the name of the field instead of a bare syntax error. Numbers too
/// large for a Double become infinite and are rejected the same way.
enum JSONValue {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    struct SyntaxError: Error {
        var message: String
        var line: Int
        var column: Int
    }

    static func parse(_ bytes: [UInt8]) throws(SyntaxError) -> JSONValue {
        var parser = Parser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.value()
        parser.skipWhitespace()
        guard parser.position == bytes.count else { throw parser.error("unexpected text after the JSON value") }
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        var position = 0
        var depth = 0

        func error(_ message: String) -> SyntaxError {
            var line = 1, column = 1
            for b in bytes[0..<min(position, bytes.count)] {
                if b == UInt8(ascii: "\n") { line += 1; column = 1 } else { column += 1 }
            }
            return SyntaxError(message: message, line: line, column: column)
        }

        mutating func skipWhitespace() {
            while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
        }

        mutating func expect(_ word: String) throws(SyntaxError) {
            for b in word.utf8 {
                guard position < bytes.count, bytes[position] == b else { throw error("invalid literal, expected '\(word)'") }
                position += 1
            }
        }

        mutating func value() throws(SyntaxError) -> JSONValue {
            guard position < bytes.count else { throw error("unexpected end of input") }
            switch bytes[position] {
            case UInt8(ascii: "{"): return try object()
            case UInt8(ascii: "["): return try array()
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            case UInt8(ascii: "N"): try expect("NaN"); return .number(.nan)
            case UInt8(ascii: "I"): try expect("Infinity"); return .number(.infinity)
            default: return .number(try number())
            }
        }

        mutating func nested<T>(_ body: (inout Parser) throws(SyntaxError) -> T) throws(SyntaxError) -> T {
            depth += 1
            guard depth <= 512 else { throw error("nesting deeper than 512 levels") }
            defer { depth -= 1 }
            return try body(&self)
        }

        mutating func object() throws(SyntaxError) -> JSONValue {
            try nested { (p: inout Parser) throws(SyntaxError) -> JSONValue in
                p.position += 1
                var fields: [String: JSONValue] = [:]
                p.skipWhitespace()
                if p.position < p.bytes.count, p.bytes[p.position] == UInt8(ascii: "}") {
                    p.position += 1
                    return .object(fields)
                }
                while true {
                    p.skipWhitespace()
                    guard p.position < p.bytes.count, p.bytes[p.position] == UInt8(ascii: "\"") else {
                        throw p.error("expected a quoted key")
                    }
                    let key = try p.string()
                    guard fields[key] == nil else { throw p.error("duplicate key \"\(key)\"") }
                    p.skipWhitespace()
                    try p.expect(":")
                    p.skipWhitespace()
                    fields[key] = try p.value()
                    p.skipWhitespace()
                    guard p.position < p.bytes.count else { throw p.error("unexpected end of input in an object") }
                    if p.bytes[p.position] == UInt8(ascii: ",") { p.position += 1; continue }
                    if p.bytes[p.position] == UInt8(ascii: "}") { p.position += 1; return .object(fields) }
                    throw p.error("expected ',' or '}' in an object")
                }
            }
        }

        mutating func array() throws(SyntaxError) -> JSONValue {
            try nested { (p: inout Parser) throws(SyntaxError) -> JSONValue in
                p.position += 1
                var items: [JSONValue] = []
                p.skipWhitespace()
                if p.position < p.bytes.count, p.bytes[p.position] == UInt8(ascii: "]") {
                    p.position += 1
                    return .array(items)
                }
                while true {
                    p.skipWhitespace()
                    items.append(try p.value())
                    p.skipWhitespace()
                    guard p.position < p.bytes.count else { throw p.error("unexpected end of input in an array") }
                    if p.bytes[p.position] == UInt8(ascii: ",") { p.position += 1; continue }
                    if p.bytes[p.position] == UInt8(ascii: "]") { p.position += 1; return .array(items) }
                    throw p.error("expected ',' or ']' in an array")
                }
            }
        }

        mutating func string() throws(SyntaxError) -> String {
            position += 1
            var scalars = String.UnicodeScalarView()
            var raw: [UInt8] = []
            func flush() {
                scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
                raw.removeAll()
            }
            while position < bytes.count {
                let b = bytes[position]
                position += 1
                if b == UInt8(ascii: "\"") {
                    flush()
                    return String(scalars)
                }
                if b < 0x20 { throw error("control character in a string") }
                if b != UInt8(ascii: "\\") { raw.append(b); continue }
                guard position < bytes.count else { break }
                let e = bytes[position]
                position += 1
                flush()
                switch e {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{8}")
                case UInt8(ascii: "f"): scalars.append("\u{c}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    let code = try hexQuad()
                    if (0xD800..<0xDC00).contains(code) {
                        // A high surrogate: with a following \\uDC00-\\uDFFF low surrogate it is one scalar
                        // (RFC 8259 section 7); alone it is invalid UTF-16 and reads as U+FFFD.
                        if position + 6 <= bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") {
                            let save = position
                            position += 2
                            let low = try hexQuad()
                            if (0xDC00..<0xE000).contains(low) {
                                scalars.append(Unicode.Scalar(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00))!)
                                continue
                            }
                            position = save
                        }
                        scalars.append("\u{FFFD}")
                    } else {
                        scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
                    }
                default: throw error("invalid escape in a string")
                }
            }
            throw error("unterminated string")
        }

        /// The four hex digits of a \\u escape.
        mutating func hexQuad() throws(SyntaxError) -> UInt32 {
            guard position + 4 <= bytes.count,
                  bytes[position..<(position + 4)].allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) }),
                  let code = UInt32(String(decoding: bytes[position..<(position + 4)], as: UTF8.self), radix: 16)
            else { throw error("invalid \\u escape") }
            position += 4
            return code
        }

        mutating func number() throws(SyntaxError) -> Double {
            let start = position
            if position < bytes.count, bytes[position] == UInt8(ascii: "-") {
                position += 1
                if position < bytes.count, bytes[position] == UInt8(ascii: "I") {
                    try expect("Infinity")
                    return -.infinity
                }
            }
            func digits(_ p: inout Parser) -> Int {
                let s = p.position
                while p.position < p.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(p.bytes[p.position]) {
                    p.position += 1
                }
                return p.position - s
            }
            guard digits(&self) > 0 else { throw error("invalid value") }
            if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
                position += 1
                guard digits(&self) > 0 else { throw error("invalid number: digits expected after '.'") }
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
                position += 1
                if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                    position += 1
                }
                guard digits(&self) > 0 else { throw error("invalid number: digits expected in the exponent") }
            }
            let text = String(decoding: bytes[start..<position], as: UTF8.self)
            guard let value = Double(text) else { throw error("invalid number '\(text)'") }
            return value
        }
    }
}

extension JSONValue {
    /// JSON text: objects with sorted keys, numbers in Swift's shortest round-trip form (non-finite
    /// numbers, which no valid document holds, as null), two-space indentation.
    func text(indent: String = "") -> String {
        let inner = indent + "  "
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let x):
            guard x.isFinite else { return "null" }
            if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
            return "\(x)"
        case .string(let s): return Self.quoted(s)
        case .array(let items):
            if items.isEmpty { return "[]" }
            if items.allSatisfy({ if case .number = $0 { return true } else { return false } }) {
                return "[" + items.map { $0.text() }.joined(separator: ", ") + "]"
            }
            return "[\n" + items.map { inner + $0.text(indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let fields):
            if fields.isEmpty { return "{}" }
            return "{\n" + fields.keys.sorted().map { inner + Self.quoted($0) + ": " + fields[$0]!.text(indent: inner) }
                .joined(separator: ",\n") + "\n\(indent)}"
        }
    }

    static func quoted(_ s: String) -> String { JSONText.quoted(s) }
}

/// JSON text for the command line's own output.
public enum JSONText {
    /// A JSON string literal: quotes, backslashes and control characters escaped.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
