// Shared entry point for the fuzz targets. Built with -DFUZZING (see fuzz/run.sh) it hands
// control to libFuzzer; in a normal build it replays files or directories of inputs, so the same
// target doubles as the corpus-replay tool CI runs.
#if canImport(Glibc)
import Glibc
#endif

public enum FuzzDriver {
    public typealias Body = @convention(c) (UnsafePointer<UInt8>, Int) -> CInt

    /// Fails loudly: a broken invariant must stop the fuzzer with a reproducer.
    public static func require(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition {
            let text = "fuzz invariant failed: \(message())\n"
            _ = text.withCString { write(2, $0, strlen($0)) }
            abort()
        }
    }

    public static func main(_ body: Body) -> Never {
        #if FUZZING
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, body))
        #else
        var count = 0
        for path in CommandLine.arguments.dropFirst() {
            for file in files(at: path) {
                guard let bytes = read(file) else { continue }
                _ = bytes.withUnsafeBufferPointer { b in
                    body(b.baseAddress ?? UnsafePointer(bitPattern: 1)!, b.count)
                }
                count += 1
            }
        }
        print("replayed \(count) inputs")
        exit(0)
        #endif
    }

    static func files(at path: String) -> [String] {
        var st = stat()
        guard stat(path, &st) == 0 else { return [] }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { return [path] }
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var out: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            out.append(path + "/" + name)
        }
        return out.sorted()
    }

    static func read(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt
#endif
