@testable import HTTPBoot
import Testing

/// RFC 9110 behaviour of `FileResponse.plan`, driven with header tables and file attributes.
@Suite struct FileResponseTests {
    let file = FileAttributes(size: 1000, modified: 784_111_777, inode: 42)   // Sun, 06 Nov 1994 08:49:37 GMT

    func plan(_ headers: [String: String] = [:], head: Bool = false, path: String = "/boot/x.efi") -> FileResponsePlan {
        FileResponse.plan(isHead: head, header: { name in headers.first { $0.key.lowercased() == name.lowercased() }?.value },
                          file: file, path: path)
    }

    @Test func fullGetAndHead() {
        let p = plan()
        #expect(p.status == 200 && p.body == 0..<1000)
        #expect(p.header("Content-Length") == "1000")
        #expect(p.header("Content-Type") == "application/efi")
        #expect(p.header("Last-Modified") == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(p.header("Accept-Ranges") == "bytes")
        #expect(p.header("ETag") == file.entityTag)
        let h = plan(head: true)
        #expect(h.status == 200 && h.body == nil && h.header("Content-Length") == "1000")
    }

    @Test(arguments: [
        ("bytes=0-99", 206, 0..<100, "bytes 0-99/1000"),
        ("bytes=900-", 206, 900..<1000, "bytes 900-999/1000"),
        ("bytes=-100", 206, 900..<1000, "bytes 900-999/1000"),
        ("bytes=-5000", 206, 0..<1000, "bytes 0-999/1000"),
        ("bytes=990-5000", 206, 990..<1000, "bytes 990-999/1000"),
        ("bytes=999-999", 206, 999..<1000, "bytes 999-999/1000"),
    ])
    func singleRanges(_ spec: String, _ status: Int, _ body: Range<Int>, _ contentRange: String) {
        let p = plan(["Range": spec])
        #expect(p.status == status)
        #expect(p.body == body)
        #expect(p.header("Content-Range") == contentRange)
        #expect(p.header("Content-Length") == String(body.count))
    }

    @Test func unsatisfiableRangesGet416() {
        for spec in ["bytes=1000-", "bytes=5000-6000", "bytes=-0"] {
            let p = plan(["Range": spec])
            #expect(p.status == 416, "\(spec)")
            #expect(p.header("Content-Range") == "bytes */1000")
            #expect(p.body == nil)
        }
    }

    /// RFC 9110 14.2: an unknown unit or bad syntax is ignored; several ranges may be answered whole.
    @Test func ignoredRangesGiveTheWholeFile() {
        for spec in ["items=0-1", "bytes=abc", "bytes=5-2", "bytes=0-1,5-6", "bytes="] {
            let p = plan(["Range": spec])
            #expect(p.status == 200 && p.body == 0..<1000, "\(spec)")
        }
    }

    @Test func conditionalRequests() {
        #expect(plan(["If-None-Match": file.entityTag]).status == 304)
        #expect(plan(["If-None-Match": "\"nope\", \(file.entityTag)"]).status == 304)
        #expect(plan(["If-None-Match": "W/\(file.entityTag)"]).status == 304)   // weak comparison
        #expect(plan(["If-None-Match": "*"]).status == 304)
        #expect(plan(["If-None-Match": "\"other\""]).status == 200)
        #expect(plan(["If-Modified-Since": "Sun, 06 Nov 1994 08:49:37 GMT"]).status == 304)
        #expect(plan(["If-Modified-Since": "Sat, 05 Nov 1994 08:49:37 GMT"]).status == 200)
        #expect(plan(["If-Modified-Since": "garbage"]).status == 200)
        // If-None-Match wins over If-Modified-Since.
        #expect(plan(["If-None-Match": "\"other\"", "If-Modified-Since": "Sun, 06 Nov 1994 08:49:37 GMT"]).status == 200)
        let notModified = plan(["If-None-Match": file.entityTag])
        #expect(notModified.body == nil && notModified.header("ETag") == file.entityTag)
    }

    @Test func ifRangeDecidesWhetherTheRangeApplies() {
        #expect(plan(["Range": "bytes=0-9", "If-Range": file.entityTag]).status == 206)
        #expect(plan(["Range": "bytes=0-9", "If-Range": "\"stale\""]).status == 200)
        #expect(plan(["Range": "bytes=0-9", "If-Range": "Sun, 06 Nov 1994 08:49:37 GMT"]).status == 206)
        #expect(plan(["Range": "bytes=0-9", "If-Range": "Mon, 07 Nov 1994 08:49:37 GMT"]).status == 200)
    }

    @Test func contentTypes() {
        #expect(FileResponse.contentType(for: "/a/shimx64.EFI") == "application/efi")
        #expect(FileResponse.contentType(for: "/boot.ipxe") == "text/plain; charset=utf-8")
        #expect(FileResponse.contentType(for: "/d/debian.iso") == "application/vnd.efi-iso")
        #expect(FileResponse.contentType(for: "/vmlinuz") == "application/octet-stream")
    }

    @Test func emptyFile() {
        let empty = FileResponse.plan(isHead: false, header: { _ in nil }, file: FileAttributes(size: 0, modified: 0), path: "/e")
        #expect(empty.status == 200 && empty.body == nil && empty.header("Content-Length") == "0")
    }

    @Test func httpDates() {
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(1_796_083_200) == "Tue, 01 Dec 2026 00:00:00 GMT")
        for t: Int64 in [0, 784_111_777, 951_782_400, 1_796_083_200, 4_102_444_800] {
            #expect(HTTPDate.parse(HTTPDate.format(t)) == t)
        }
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == nil)
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 25:49:37 GMT") == nil)
    }

    @Test func requestTargets() throws {
        #expect(try RequestTarget.path("/boot/x.efi?arch=16#f") == "/boot/x.efi")
        #expect(try RequestTarget.path("http://10.0.0.1:8080/a%20b") == "/a b")
        #expect(try RequestTarget.path("/%2e%2e/%2e%2e/etc/passwd") == "/../../etc/passwd")   // the jail refuses it
        #expect(try RequestTarget.path("/a%2fb") == "/a/b")
        #expect(throws: RequestTarget.Problem.controlCharacter) { try RequestTarget.path("/a%00b") }
        #expect(throws: RequestTarget.Problem.badEscape) { try RequestTarget.path("/a%zz") }
        #expect(throws: RequestTarget.Problem.badEscape) { try RequestTarget.path("/a%2") }
        #expect(throws: RequestTarget.Problem.notUTF8) { try RequestTarget.path("/a%ff") }
        #expect(throws: RequestTarget.Problem.notAPath) { try RequestTarget.path("*") }
    }
}
