using Vmm.Abstractions;
using Vmm.Core.Scenarios;
using static Vmm.Core.Tests.Infrastructure.ScenarioJson;

namespace Vmm.Core.Tests.Scenarios;

public class ExpectationParsingTests
{
    private static Expectation Expect(string expect) =>
        Step($$"""{ "op": "inspect", "vm": "vm1", "gpa": 0, "expect": {{expect}} }""").Expect!;

    private static ScenarioException ExpectError(string expect) =>
        StepError($$"""{ "op": "inspect", "vm": "vm1", "gpa": 0, "expect": {{expect}} }""");

    [Theory]
    [InlineData("\"ok\"", OutcomeKind.Ok)]
    [InlineData("\"guest-mce\"", OutcomeKind.GuestMce)]
    [InlineData("\"guest-killed\"", OutcomeKind.GuestKilled)]
    [InlineData("\"host-panic\"", OutcomeKind.HostPanic)]
    [InlineData("\"shutdown\"", OutcomeKind.Shutdown)]
    [InlineData("\"not-run\"", OutcomeKind.NotRun)]
    public void Parse_OutcomeName_GivesThatKindWithNoFields(string expect, OutcomeKind kind)
    {
        var expectation = Expect(expect);

        Assert.Equal(kind, expectation.Kind);
        Assert.Null(expectation.Data);
        Assert.Null(expectation.Count);
    }

    [Fact]
    public void Parse_OkWithDataAndCount_KeepsBoth()
    {
        var expectation = Expect("""{ "ok": { "data": "0x0102", "count": 3 } }""");

        Assert.Equal(OutcomeKind.Ok, expectation.Kind);
        Assert.Equal(new byte[] { 1, 2 }, expectation.Data);
        Assert.Equal(3, expectation.Count);
        Assert.Equal("""{ "ok": { "data": "0x0102", "count": 3 } }""", expectation.Json.GetRawText());
    }

    [Fact]
    public void Parse_Sigbus_KeepsCodeAndOptionalLsb()
    {
        var withLsb = Expect("""{ "sigbus": { "code": "BUS_MCEERR_AR", "lsb": 12 } }""");
        var withoutLsb = Expect("""{ "sigbus": { "code": "BUS_ADRERR" } }""");

        Assert.Equal((OutcomeKind.SigBus, SigBusCode.BUS_MCEERR_AR, 12), (withLsb.Kind, withLsb.SigBusCode!.Value, withLsb.Lsb!.Value));
        Assert.Equal(SigBusCode.BUS_ADRERR, withoutLsb.SigBusCode);
        Assert.Null(withoutLsb.Lsb);
    }

    [Fact]
    public void Parse_SigbusWithUnknownCode_ListsCodes()
    {
        var error = ExpectError("""{ "sigbus": { "code": "BUS_MCEERR" } }""");

        Assert.StartsWith("unknown code \"BUS_MCEERR\"; use one of:", error.Message, StringComparison.Ordinal);
        Assert.Contains("BUS_MCEERR_AO", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SigbusWithoutCode_NeedsCode()
    {
        Assert.Equal("a sigbus outcome needs \"code\"", ExpectError("""{ "sigbus": { "lsb": 12 } }""").Message);
    }

    [Fact]
    public void Parse_Errno_KeepsTheName()
    {
        Assert.Equal(Errno.EHWPOISON, Expect("""{ "errno": "EHWPOISON" }""").Errno);
    }

    [Theory]
    [InlineData("\"EACCESS\"")]
    [InlineData("\"efault\"")]
    [InlineData("\"14\"")]
    public void Parse_UnknownErrno_ListsKnownNames(string errno)
    {
        var error = ExpectError($$"""{ "errno": {{errno}} }""");

        Assert.Contains("; use one of: EPERM, ENOENT", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_KvmExit_KeepsEveryNamedField()
    {
        var expectation = Expect("""{ "kvm-exit": { "reason": "MEMORY_FAULT", "flags": ["PRIVATE"], "gpa": "0x1000", "size": "4K" }, "errno": "EFAULT" }""");

        Assert.Equal(OutcomeKind.KvmExit, expectation.Kind);
        Assert.Equal("MEMORY_FAULT", expectation.ExitReason);
        Assert.Equal(["PRIVATE"], expectation.ExitFlags!);
        Assert.Equal(0x1000UL, expectation.ExitGpa);
        Assert.Equal(4096UL, expectation.ExitSize);
        Assert.Equal(Errno.EFAULT, expectation.Errno);
    }

    [Fact]
    public void Parse_KvmExitWithOnlyReason_LeavesTheRestUnnamed()
    {
        var expectation = Expect("""{ "kvm-exit": { "reason": "HWPOISON" } }""");

        Assert.Null(expectation.ExitFlags);
        Assert.Null(expectation.ExitGpa);
        Assert.Null(expectation.Errno);
    }

    [Fact]
    public void Parse_KvmExitWithoutReason_NeedsReason()
    {
        Assert.Equal("a kvm-exit outcome needs \"reason\"", ExpectError("""{ "kvm-exit": { "gpa": 0 } }""").Message);
    }

    [Fact]
    public void Parse_Killed_KeepsTheSignal()
    {
        Assert.Equal("SIGKILL", Expect("""{ "killed": "SIGKILL" }""").Signal);
    }

    [Fact]
    public void Parse_State_KeepsNamedFields()
    {
        var state = Expect("""{ "state": { "hwpoison": true, "owner": null, "lines": { "poisoned": 1 } } }""").State!;

        Assert.Equal(["hwpoison", "lines", "owner"], state.Keys.Order(StringComparer.Ordinal));
        Assert.True(state["hwpoison"].GetBoolean());
        Assert.Equal(1, state["lines"].GetProperty("poisoned").GetInt32());
    }

    [Theory]
    [InlineData("""{ "state": { "poisoned": true } }""", "unknown state field \"poisoned\"; use one of: hwpoison, private, hostMapped, hwpoisonEntry, huge, owner, lines, ept, pfn, pte, refcount, mapcount, hwpEntryRefs, eptHuge")]
    [InlineData("""{ "state": { "huge": 1 } }""", "\"huge\" is true or false, not 1")]
    [InlineData("""{ "state": { "owner": 1 } }""", "\"owner\" is a string or null, not 1")]
    [InlineData("""{ "state": { "lines": { "dirty": 1 } } }""", "unknown field of \"lines\" \"dirty\"; use one of: poisoned")]
    [InlineData("""{ "state": { "lines": { "poisoned": 65 } } }""", "\"poisoned\" must be between 0 and 64, not 65")]
    public void Parse_BadStateField_SaysWhatIsAllowed(string expect, string message)
    {
        Assert.Equal(message, ExpectError(expect).Message);
    }

    [Theory]
    [InlineData("\"okay\"", "unknown outcome \"okay\"; use one of: ok, guest-mce, guest-killed, guest-vc, host-panic, shutdown, not-run, or an object with one of: ok, sigbus, errno, kvm-exit, killed, state")]
    [InlineData("""{ "sigsegv": {} }""", "unknown outcome \"sigsegv\"; use one of: ok, sigbus, errno, kvm-exit, killed, state")]
    [InlineData("""{ "ok": {}, "errno": "EFAULT" }""", "unknown key of an ok outcome \"errno\"; use one of: ok")]
    [InlineData("""{ "ok": { "bytes": "0x00" } }""", "unknown field of an ok outcome \"bytes\"; use one of: data, count")]
    [InlineData("""{ "ok": true }""", "\"ok\" is an object like {\"data\": \"0x00\"} or {\"count\": 1} or {}, not true")]
    [InlineData("{}", "an outcome object needs one of: ok, sigbus, errno, kvm-exit, killed, state")]
    public void Parse_BadOutcome_NamesTheForms(string expect, string message)
    {
        Assert.Equal(message, ExpectError(expect).Message);
    }
}
