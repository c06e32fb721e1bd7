using Vmm.Abstractions;
using Vmm.Core.Scenarios;
using static Vmm.Core.Tests.Infrastructure.ScenarioJson;

namespace Vmm.Core.Tests.Scenarios;

public class ExpectationMatcherTests
{
    private static Expectation Expect(string expect) =>
        Step($$"""{ "op": "inspect", "vm": "vm1", "gpa": 0, "expect": {{expect}} }""").Expect!;

    private static Outcome State(params (string Key, object? Value)[] fields) =>
        Outcome.Inspected(fields.ToDictionary(f => f.Key, f => f.Value));

    [Fact]
    public void Matches_PlainOk_AcceptsAnyOk()
    {
        var ok = Expect("\"ok\"");

        Assert.True(ok.Matches(Outcome.Ok()));
        Assert.True(ok.Matches(Outcome.OkData([1, 2])));
        Assert.True(ok.Matches(Outcome.OkCount(7)));
    }

    [Fact]
    public void Matches_DifferentKind_Fails()
    {
        Assert.False(Expect("\"ok\"").Matches(Outcome.SigBus(SigBusCode.BUS_MCEERR_AR, new Hva(0), 12)));
        Assert.False(Expect("\"host-panic\"").Matches(Outcome.Shutdown("x")));
        Assert.False(Expect("\"not-run\"").Matches(Outcome.Ok()));
    }

    [Fact]
    public void Matches_OkData_ComparesBytes()
    {
        var expect = Expect("""{ "ok": { "data": "0x0102" } }""");

        Assert.True(expect.Matches(Outcome.OkData([1, 2])));
        Assert.False(expect.Matches(Outcome.OkData([1, 3])));
        Assert.False(expect.Matches(Outcome.OkData([1, 2, 0])));
        Assert.False(expect.Matches(Outcome.Ok()));
    }

    [Fact]
    public void Matches_OkCount_ComparesCountOnly()
    {
        var expect = Expect("""{ "ok": { "count": 2 } }""");

        Assert.True(expect.Matches(Outcome.OkDataCount([9], 2)));
        Assert.False(expect.Matches(Outcome.OkCount(1)));
        Assert.False(expect.Matches(Outcome.OkData([9])));
    }

    [Fact]
    public void Matches_SigbusWithoutLsb_IgnoresLsb()
    {
        var expect = Expect("""{ "sigbus": { "code": "BUS_MCEERR_AO" } }""");

        Assert.True(expect.Matches(Outcome.SigBus(SigBusCode.BUS_MCEERR_AO, new Hva(0), 21)));
        Assert.False(expect.Matches(Outcome.SigBus(SigBusCode.BUS_MCEERR_AR, new Hva(0), 21)));
    }

    [Fact]
    public void Matches_SigbusWithLsb_ComparesIt()
    {
        var expect = Expect("""{ "sigbus": { "code": "BUS_MCEERR_AR", "lsb": 12 } }""");

        Assert.True(expect.Matches(Outcome.SigBus(SigBusCode.BUS_MCEERR_AR, new Hva(0x1000), 12)));
        Assert.False(expect.Matches(Outcome.SigBus(SigBusCode.BUS_MCEERR_AR, new Hva(0x1000), 21)));
    }

    [Fact]
    public void Matches_Errno_ComparesName()
    {
        Assert.True(Expect("""{ "errno": "EFAULT" }""").Matches(Outcome.Error(Errno.EFAULT)));
        Assert.False(Expect("""{ "errno": "EFAULT" }""").Matches(Outcome.Error(Errno.EHWPOISON)));
    }

    [Fact]
    public void Matches_KvmExit_ComparesNamedFieldsAndFlagsAsASet()
    {
        var expect = Expect("""{ "kvm-exit": { "reason": "MEMORY_FAULT", "flags": ["PRIVATE", "WRITE"], "gpa": "0x1000" }, "errno": "EFAULT" }""");

        Assert.True(expect.Matches(Outcome.KvmExit("MEMORY_FAULT", ["WRITE", "PRIVATE"], new Gpa(0x1000), 8192, Errno.EFAULT)));
        Assert.False(expect.Matches(Outcome.KvmExit("MEMORY_FAULT", ["PRIVATE"], new Gpa(0x1000), 4096, Errno.EFAULT)));
        Assert.False(expect.Matches(Outcome.KvmExit("MEMORY_FAULT", ["WRITE", "PRIVATE"], new Gpa(0x2000), 4096, Errno.EFAULT)));
        Assert.False(expect.Matches(Outcome.KvmExit("MEMORY_FAULT", ["WRITE", "PRIVATE"], new Gpa(0x1000), 4096, Errno.EINVAL)));
        Assert.False(expect.Matches(Outcome.KvmExit("HWPOISON", ["WRITE", "PRIVATE"], new Gpa(0x1000), 4096, Errno.EFAULT)));
    }

    [Fact]
    public void Matches_Killed_ComparesSignal()
    {
        Assert.True(Expect("""{ "killed": "SIGKILL" }""").Matches(Outcome.Killed("SIGKILL")));
        Assert.False(Expect("""{ "killed": "SIGKILL" }""").Matches(Outcome.Killed("SIGBUS")));
    }

    [Fact]
    public void Matches_State_ComparesOnlyNamedFields()
    {
        var expect = Expect("""{ "state": { "hwpoisonEntry": true, "hostMapped": false } }""");

        Assert.True(expect.Matches(State(("hwpoisonEntry", true), ("hostMapped", false), ("hwpoison", true), ("owner", "vm1"))));
        Assert.False(expect.Matches(State(("hwpoisonEntry", true), ("hostMapped", true))));
    }

    [Fact]
    public void Matches_StateFieldMissingFromActual_Fails()
    {
        Assert.False(Expect("""{ "state": { "huge": false } }""").Matches(State(("hwpoison", false))));
    }

    [Fact]
    public void Matches_StateOwner_ComparesNameOrNull()
    {
        Assert.True(Expect("""{ "state": { "owner": null } }""").Matches(State(("owner", null))));
        Assert.False(Expect("""{ "state": { "owner": null } }""").Matches(State(("owner", "td1"))));
        Assert.True(Expect("""{ "state": { "owner": "td1" } }""").Matches(State(("owner", "td1"))));
        Assert.False(Expect("""{ "state": { "owner": "td1" } }""").Matches(State(("owner", "vm2"))));
    }

    [Fact]
    public void Matches_StateLines_ComparesNamedSubField()
    {
        var expect = Expect("""{ "state": { "lines": { "poisoned": 0 } } }""");

        Assert.True(expect.Matches(State(("lines", new Dictionary<string, object?> { ["poisoned"] = 0, ["total"] = 64 }))));
        Assert.True(expect.Matches(State(("lines", new { Poisoned = 0L }))));
        Assert.False(expect.Matches(State(("lines", new Dictionary<string, object?> { ["poisoned"] = 1 }))));
        Assert.False(expect.Matches(State(("lines", 0))));
    }

    [Fact]
    public void Matches_StateKeyCase_IsForgiven()
    {
        Assert.True(Expect("""{ "state": { "hostMapped": true } }""").Matches(State(("HostMapped", true))));
    }
}
