using Vmm.Abstractions;
using Vmm.Core.Scenarios;

namespace Vmm.Core.Tests.Scenarios;

public class OutcomeJsonTests
{
    public static TheoryData<Outcome, string> Outcomes => new()
    {
        { Outcome.Ok(), "\"ok\"" },
        { Outcome.OkData([0x00, 0xAB, 0x10]), """{"ok":{"data":"0x00ab10"}}""" },
        { Outcome.OkCount(3), """{"ok":{"count":3}}""" },
        { Outcome.OkDataCount([0xff], 1), """{"ok":{"data":"0xff","count":1}}""" },
        { Outcome.SigBus(SigBusCode.BUS_MCEERR_AR, new Hva(0x7f0000002000), 12), """{"sigbus":{"code":"BUS_MCEERR_AR","lsb":12}}""" },
        { Outcome.SigBus(SigBusCode.SI_KERNEL, default, 0), """{"sigbus":{"code":"SI_KERNEL"}}""" },
        { Outcome.Error(Errno.EHWPOISON), """{"errno":"EHWPOISON"}""" },
        { Outcome.KvmExit("MEMORY_FAULT", ["PRIVATE"], new Gpa(0x1000), 4096, Errno.EFAULT), """{"kvm-exit":{"reason":"MEMORY_FAULT","flags":["PRIVATE"],"gpa":"0x1000","size":"0x1000"},"errno":"EFAULT"}""" },
        { Outcome.GuestMce("poison"), "\"guest-mce\"" },
        { Outcome.GuestKilled("fatal"), "\"guest-killed\"" },
        { Outcome.HostPanic("mce in kernel"), "\"host-panic\"" },
        { Outcome.Shutdown("seam"), "\"shutdown\"" },
        { Outcome.Killed("SIGKILL"), """{"killed":"SIGKILL"}""" },
        { Outcome.NotRun, "\"not-run\"" },
    };

    [Theory]
    [MemberData(nameof(Outcomes))]
    public void ToJson_WritesTheContractShape(Outcome outcome, string json)
    {
        Assert.Equal(json, OutcomeJson.ToJson(outcome));
    }

    [Fact]
    public void ToJson_State_WritesEveryFieldIncludingNestedLines()
    {
        var state = new Dictionary<string, object?>
        {
            ["hwpoison"] = true,
            ["owner"] = null,
            ["lines"] = new Dictionary<string, object?> { ["poisoned"] = 2 },
        };

        Assert.Equal("""{"state":{"hwpoison":true,"owner":null,"lines":{"poisoned":2}}}""", OutcomeJson.ToJson(Outcome.Inspected(state)));
    }

    [Fact]
    public void ToJson_StateWithAnObjectValue_SerialisesItsProperties()
    {
        var state = new Dictionary<string, object?> { ["lines"] = new { Poisoned = 1 } };

        Assert.Equal("""{"state":{"lines":{"poisoned":1}}}""", OutcomeJson.ToJson(Outcome.Inspected(state)));
    }

    [Fact]
    public void ToJson_ExpectationOfTheSameOutcome_ParsesBackAndMatches()
    {
        var outcome = Outcome.KvmExit("MEMORY_FAULT", ["PRIVATE"], new Gpa(0x2000), 4096, Errno.EFAULT);
        var scenario = ScenarioParser.Parse($$"""{ "name": "n", "vms": [{ "name": "v", "memory": "4M" }], "steps": [{ "op": "guest.read", "vm": "v", "gpa": 0, "len": 1, "expect": {{OutcomeJson.ToJson(outcome)}} }] }""", "x.json");

        Assert.True(scenario.Steps[0].Expect!.Matches(outcome));
    }

    [Fact]
    public void Describe_Sigbus_IsOneShortLine()
    {
        Assert.Equal("sigbus BUS_MCEERR_AR lsb 12", OutcomeText.Describe(Outcome.SigBus(SigBusCode.BUS_MCEERR_AR, new Hva(0), 12)));
    }

    [Fact]
    public void Describe_LongData_IsCut()
    {
        Assert.Equal("ok data=0x00000000000000000000000000000000… (4096 bytes)", OutcomeText.Describe(Outcome.OkData(new byte[4096])));
    }
}
