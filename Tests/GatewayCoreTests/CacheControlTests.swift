// The Cache-Control parser and the HTTP-date parser on their own, including malformed input.
import Testing

@testable import GatewayCore

@Suite struct CacheControlTests {
    @Test func directivesWithAndWithoutValuesAnyCase() {
        let control = CacheControl("Public, MAX-AGE=60 , s-maxage = 30,no-transform")
        #expect(control.directives.map(\.name) == ["public", "max-age", "s-maxage", "no-transform"])
        #expect(control.isPublic)
        #expect(control.maxAge == 60)
        #expect(control.sMaxAge == 30)
        #expect(control.value("no-transform") == nil && control.contains("No-Transform"))
        #expect(!control.noStore && !control.noCache && !control.isPrivate)
    }

    @Test func quotedValuesKeepCommasAndEscapes() {
        let control = CacheControl(#"private="Set-Cookie, X-Token", no-cache="a\"b", max-age="120""#)
        #expect(control.value("private") == "Set-Cookie, X-Token")
        #expect(control.value("no-cache") == #"a"b"#)
        #expect(control.maxAge == 120)
        #expect(control.isPrivate && control.noCache)
        #expect(control.directives.count == 3)
    }

    @Test func repeatedLinesAreMergedAndTheFirstValueWins() {
        let control = CacheControl(["max-age=10", "no-cache", "max-age=99"])
        #expect(control.maxAge == 10)
        #expect(control.noCache)
        #expect(control.directives.count == 3)
    }

    @Test func badDeltaSecondsCountAsStaleAndHugeOnesAreCut() {
        #expect(CacheControl("max-age=abc").maxAge == 0)
        #expect(CacheControl("max-age=-5").maxAge == 0)
        #expect(CacheControl("max-age").maxAge == 0)
        #expect(CacheControl("max-age=").maxAge == 0)
        #expect(CacheControl("max-age=1.5").maxAge == 0)
        #expect(CacheControl("max-age=99999999999999999999999").maxAge == CacheControl.maxDeltaSeconds)
        #expect(CacheControl("no-store").maxAge == nil)
    }

    @Test func emptyAndGarbageInputGivesNoDirectives() {
        #expect(CacheControl(nil as String?).isEmpty)
        #expect(CacheControl("").isEmpty)
        #expect(CacheControl(" ,, ,").isEmpty)
        // An unterminated quote takes the rest; junk after a value is skipped.
        #expect(CacheControl(#"private="abc"#).value("private") == "abc")
        let junk = CacheControl("max-age=5 junk, =7, no-store")
        #expect(junk.maxAge == 0)  // "5 junk" is not delta-seconds
        #expect(junk.noStore)
        #expect(!junk.contains(""))
    }

    @Test func httpDatesInAllThreeFormats() {
        let expected: Int64 = 784_111_777  // 1994-11-06 08:49:37 GMT
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT", now: testWallNow) == expected)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT", now: testWallNow) == expected)
        #expect(HTTPDate.parse("Sun Nov  6 08:49:37 1994", now: testWallNow) == expected)
        #expect(HTTPDate.format(expected) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(testWallNow) == "Wed, 01 May 2024 12:00:00 GMT")
        #expect(HTTPDate.parse(HTTPDate.format(testWallNow), now: testWallNow) == testWallNow)
        // Leap day, and a two-digit year within 50 years ahead stays in this century.
        #expect(HTTPDate.parse("Thu, 29 Feb 2024 00:00:00 GMT", now: testWallNow) == 1_709_164_800)
        #expect(HTTPDate.parse("Friday, 01-Jan-30 00:00:00 GMT", now: testWallNow) == 1_893_456_000)
    }

    @Test func invalidHTTPDatesAreRejected() {
        for text in [
            "0", "-1", "", "tomorrow", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 31 Feb 2024 00:00:00 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49 GMT", "Sun, +6 Nov 1994 08:49:37 GMT", "Thu, 29 Feb 2023 00:00:00 GMT",
        ] {
            #expect(HTTPDate.parse(text, now: testWallNow) == nil, "\(text)")
        }
    }
}
