import Foundation
import Testing
@testable import XentestBackendLibvirt
@testable import XentestBackendXL
@testable import XentestLab
@testable import XentestPlan
@testable import XentestReport
@testable import XentestRun
@testable import XentestXLParsing

@Suite("Plan includes: nested, filtered, cycles, missing files, duplicates across files") struct PlanIncludeTests {
    @Test func nestedAndFilteredIncludesLoad() throws {
        let outcome = try loadFixturePlan("includes/valid-main.yaml")
        let plan = try #require(outcome.plan, "\(outcome.lines)")
        #expect(outcome.lines.isEmpty)
        // A file's own cases come first, then those of its includes in order; a filter keeps only the named
        // cases, also from files the filtered file includes.
        #expect(plan.cases.map(\.id) == ["main-one", "outer-one", "inner-one", "menu-two", "menu-nested"])
        #expect(plan.name == "valid-main")
        #expect(plan.areas == ["lifecycle", "cpu-hotplug", "network"])

        // Includes resolve against the including file's folder: inner.yaml is next to outer.yaml.
        let inner = try #require(plan.testCase("inner-one"))
        #expect(inner.location.file.hasSuffix("/includes/parts/inner.yaml"))
        #expect((inner.location.line, inner.location.column) == (2, 5))
        // Guests defined in one file are usable from all of them.
        #expect(inner.guest?.name == "hotplug")
        #expect(inner.guest?.maxvcpus == 2)
        #expect(plan.testCase("menu-nested")?.guest?.name == "small")
        #expect(plan.testCase("menu-one") == nil)
        #expect(plan.testCase("menu-skipped") == nil)
    }

    /// The outer filter keeps menu-nested and inner-one; the inner filter's menu-skipped is left out without
    /// being called missing, and the plain include inside the filtered file is filtered too.
    @Test func nestedFiltersNarrow() throws {
        let outcome = try loadFixturePlan("includes/nested-filters.yaml")
        let plan = try #require(outcome.plan, "\(outcome.lines)")
        #expect(outcome.lines.isEmpty)
        #expect(plan.cases.map(\.id) == ["menu-nested", "inner-one"])
    }

    @Test func includeCycleIsReported() throws {
        let outcome = try loadFixturePlan("includes/cycle-a.yaml")
        #expect(outcome.plan == nil)
        #expect(
            outcome.lines == [
                "includes/cycle-b.yaml:2:5: error: include cycle: includes/cycle-a.yaml includes cycle-b.yaml, "
                    + "which includes cycle-a.yaml"
            ]
        )
    }

    @Test func selfIncludeIsReported() throws {
        let outcome = try loadFixturePlan("includes/self.yaml")
        #expect(outcome.lines == ["includes/self.yaml:4:5: error: includes/self.yaml includes itself ('./self.yaml')"])
    }

    @Test func missingIncludeIsReportedWithWhereItLooked() throws {
        let outcome = try loadFixturePlan("includes/missing.yaml")
        #expect(
            outcome.lines == [
                "includes/missing.yaml:5:5: error: included file 'parts/does-not-exist.yaml' does not exist "
                    + "(looked for includes/parts/does-not-exist.yaml)"
            ]
        )
    }

    @Test func filteredIncludeNamingAMissingCase() throws {
        let outcome = try loadFixturePlan("includes/filtered-missing.yaml")
        #expect(outcome.plan == nil)
        #expect(
            outcome.lines == [
                "includes/filtered-missing.yaml:6:23: error: 'parts/menu.yaml' has no case 'menu-three'",
                "includes/filtered-missing.yaml:6:48: error: case id 'Menu-Four' is not a valid name: use lowercase "
                    + "letters, digits and '-', starting with a letter",
                "includes/filtered-missing.yaml:7:5: error: an include is missing required key 'file'",
                "includes/filtered-missing.yaml:7:5: error: unknown key 'path' in an include; expected one of: file, "
                    + "cases",
            ]
        )
    }

    @Test func duplicatesAcrossFilesNameTheFirstDefinition() throws {
        let outcome = try loadFixturePlan("includes/duplicates.yaml")
        #expect(outcome.plan == nil)
        #expect(
            outcome.lines == [
                "includes/parts/guests.yaml:2:3: error: duplicate guest 'small'; first defined at "
                    + "includes/duplicates.yaml:4:3",
                "includes/parts/inner.yaml:2:5: error: duplicate case id 'inner-one'; first defined at "
                    + "includes/duplicates.yaml:10:5",
            ]
        )
    }

    @Test func includedFilesCannotHavePlanKeys() throws {
        let outcome = try loadFixturePlan("includes/plan-keys-in-include.yaml")
        #expect(
            outcome.lines == [
                "includes/parts/not-an-include.yaml:1:1: error: unknown key 'release' in an included file; expected "
                    + "one of: include, guests, cases",
                "includes/parts/not-an-include.yaml:2:1: error: unknown key 'title' in an included file; expected "
                    + "one of: include, guests, cases",
            ]
        )
    }

    @Test func problemsInAnIncludedFileAreReportedThere() throws {
        let outcome = try loadPlanText(
            """
            release: 4.3.0-rc6
            title: Fixture plan
            include:
              - more/cases.yaml
              - more/broken.yaml
              - more/binary.yaml
            """,
            extraFiles: [
                "more/cases.yaml": """
                cases:
                  - id: one
                    title: One
                    area: lifecycle
                    steps:
                      - pci-assignable-list:
                        expect: {contains: GPU}
                """, "more/broken.yaml": "cases: [\n", "more/binary.yaml": "cases:\u{0}\n",
            ]
        )
        #expect(outcome.plan == nil)
        expectLines(
            outcome.lines,
            [
                "more/binary.yaml:1:7: error: file contains a NUL byte: this is not a text file",
                "more/broken.yaml:2:1: error: invalid YAML: *",
                "more/cases.yaml:7:28: error: PCI role 'GPU' is not a valid name: use lowercase letters, digits and "
                    + "'-', starting with a letter",
            ]
        )
    }

    @Test("an empty included file is an error at its include, not a silent no-op") func emptyIncludedFile() throws {
        let outcome = try loadPlanText(
            """
            release: 4.3.0-rc6
            title: Fixture plan
            include:
              - empty.yaml
              - only-comments.yaml
            cases:
              - id: one
                title: One
                area: lifecycle
                steps:
                  - pci-assignable-list:
            """,
            extraFiles: ["empty.yaml": "", "only-comments.yaml": "# nothing yet\n---\n"]
        )
        #expect(outcome.plan == nil)
        #expect(
            outcome.lines == [
                "plan.yaml:4:5: error: included file 'empty.yaml' is empty; it needs 'guests', 'cases' or 'include'",
                "plan.yaml:5:5: error: included file 'only-comments.yaml' is empty; it needs 'guests', 'cases' or "
                    + "'include'",
            ]
        )
    }
}
