import Foundation

/// NumPy .npy files (format versions 1 and 2): little-endian float64, int64, int32 and uint8 arrays in C
/// order. Reading copies the file's bytes straight into the array's storage: no per-element parsing and no
/// second copy of the data.
public enum NPY {
    public struct Failure: Error, CustomStringConvertible {
        public var path: String
        public var message: String
        public var description: String { "\(path): \(message)" }
    }

    /// A parsed header: dtype descriptor, shape and where the data starts.
    struct Header {
        var descr: String
        var shape: [Int]
        var dataOffset: Int
        var count: Int { shape.reduce(1, *) }
    }

    static func readHeader(_ fd: Int32, path: String) throws(Failure) -> Header {
        var prefix = [UInt8](repeating: 0, count: 12)
        guard read(fd, &prefix, 10) == 10, prefix[0] == 0x93, Array(prefix[1..<6]) == Array("NUMPY".utf8) else {
            throw Failure(path: path, message: "not a .npy file (bad magic)")
        }
        let major = prefix[6]
        var length: Int
        var offset: Int
        if major == 1 {
            length = Int(prefix[8]) | Int(prefix[9]) << 8
            offset = 10
        } else if major == 2 || major == 3 {
            guard read(fd, &prefix[10], 2) == 2 else { throw Failure(path: path, message: "truncated header") }
            length = Int(prefix[8]) | Int(prefix[9]) << 8 | Int(prefix[10]) << 16 | Int(prefix[11]) << 24
            offset = 12
        } else {
            throw Failure(path: path, message: "unsupported .npy version \(major)")
        }
        var text = [UInt8](repeating: 0, count: length)
        guard read(fd, &text, length) == length else { throw Failure(path: path, message: "truncated header") }
        let header = String(decoding: text, as: UTF8.self)
        func field(_ key: String) -> String? {
            guard let range = header.range(of: "'\(key)':") else { return nil }
            return String(header[range.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descrField = field("descr"), let quoteEnd = descrField.dropFirst().firstIndex(of: "'") else {
            throw Failure(path: path, message: "header has no 'descr'")
        }
        let descr = String(descrField[descrField.index(after: descrField.startIndex)..<quoteEnd])
        guard let fortran = field("fortran_order"), fortran.hasPrefix("False") else {
            throw Failure(path: path, message: "Fortran-ordered arrays are not supported (save with C order)")
        }
        guard let shapeField = field("shape"), let close = shapeField.firstIndex(of: ")") else {
            throw Failure(path: path, message: "header has no 'shape'")
        }
        let shape = shapeField[shapeField.index(after: shapeField.startIndex)..<close]
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map { Int($0) }
        guard shape.allSatisfy({ $0 != nil && $0! >= 0 }) else { throw Failure(path: path, message: "bad shape in header") }
        return Header(descr: descr, shape: shape.map { $0! }, dataOffset: offset + length)
    }

    /// Reads `count` elements of `T` from `fd` into a new array, checking the file holds exactly that much.
    static func readBody<T>(_ fd: Int32, count: Int, as: T.Type, path: String) throws(Failure) -> [T] {
        let bytes = count * MemoryLayout<T>.stride
        var failure: Failure?
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            let raw = UnsafeMutableRawPointer(buffer.baseAddress!)
            var done = 0
            while done < bytes {
                let n = read(fd, raw + done, bytes - done)
                if n <= 0 { break }
                done += n
            }
            if done < bytes {
                failure = Failure(path: path, message: "truncated: expected \(bytes) data bytes, found \(done)")
                // Zero the rest so the array is fully initialized before it is dropped.
                memset(raw + done, 0, bytes - done)
            }
            initialized = count
        }
        if let failure { throw failure }
        var extra: UInt8 = 0
        if read(fd, &extra, 1) == 1 { throw Failure(path: path, message: "has more data than its shape says") }
        return values
    }

    static func open(_ path: String) throws(Failure) -> Int32 {
        let fd = Foundation.open(path, O_RDONLY)
        guard fd >= 0 else { throw Failure(path: path, message: "cannot open (\(String(cString: strerror(errno))))") }
        return fd
    }

    /// A float64 array and its shape.
    public static func readDoubles(_ path: String) throws(Failure) -> (values: [Double], shape: [Int]) {
        let fd = try open(path)
        defer { close(fd) }
        let header = try readHeader(fd, path: path)
        guard header.descr == "<f8" else {
            throw Failure(path: path, message: "dtype '\(header.descr)' is not float64 little-endian ('<f8')")
        }
        return (try readBody(fd, count: header.count, as: Double.self, path: path), header.shape)
    }

    /// An integer array (int64 or int32, little-endian) and its shape.
    public static func readIntegers(_ path: String) throws(Failure) -> (values: [Int], shape: [Int]) {
        let fd = try open(path)
        defer { close(fd) }
        let header = try readHeader(fd, path: path)
        switch header.descr {
        case "<i8": return (try readBody(fd, count: header.count, as: Int64.self, path: path).map { Int($0) }, header.shape)
        case "<i4": return (try readBody(fd, count: header.count, as: Int32.self, path: path).map { Int($0) }, header.shape)
        default: throw Failure(path: path, message: "dtype '\(header.descr)' is not an integer type ('<i8' or '<i4')")
        }
    }

    static func header(descr: String, shape: [Int]) -> [UInt8] {
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var text = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }"
        let total = 10 + text.utf8.count + 1
        text += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        let n = text.utf8.count
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Array(text.utf8)
    }

    static func write<T>(_ values: [T], descr: String, shape: [Int], to path: String) throws(Failure) {
        precondition(shape.reduce(1, *) == values.count)
        var data = Data(header(descr: descr, shape: shape))
        values.withUnsafeBytes { data.append(contentsOf: $0) }
        do { try AtomicFile.write(data, to: path) } catch { throw Failure(path: path, message: error.message) }
    }

    public static func write(_ values: [Double], shape: [Int], to path: String) throws(Failure) {
        try write(values, descr: "<f8", shape: shape, to: path)
    }

    public static func write(_ values: [Int], shape: [Int], to path: String) throws(Failure) {
        try write(values.map { Int64($0) }, descr: "<i8", shape: shape, to: path)
    }

    public static func write(_ values: [UInt8], shape: [Int], to path: String) throws(Failure) {
        try write(values, descr: "|u1", shape: shape, to: path)
    }
}
