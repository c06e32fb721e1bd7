using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;
using static Vmm.Core.Tests.Scenarios.ScenarioTestText;

namespace Vmm.Core.Tests.Scenarios;

/// <summary>Names match exactly (case-sensitive) everywhere; a near miss is rejected with a "did you mean" hint at the name.</summary>
public class ExactNamesTests
{
    [Theory]
    [InlineData("""{ "op": "Host.read", "vm": "vm1", "gpa": 0, "len": 4 }""", "\"Host.read\"", "unknown op \"Host.read\" (did you mean \"host.read\"?); use one of:")]
    [InlineData("""{ "op": "host.read", "vm": "VM1", "gpa": 0, "len": 4 }""", "\"VM1\"", "no VM named \"VM1\" (did you mean \"vm1\"?); the scenario's VMs: vm1")]
    [InlineData("""{ "op": "host.read", "vm": "vm1", "Gpa": 0, "len": 4 }""", "\"Gpa\"", "unknown property \"Gpa\" in step 0 (host.read) (did you mean \"gpa\"?);")]
    [InlineData("""{ "op": "host.madvise", "vm": "vm1", "gpa": 0, "size": "4K", "advice": "hwpoison" }""", "\"hwpoison\"", "unknown advice \"hwpoison\" (did you mean \"HWPOISON\"?); use one of: HWPOISON,")]
    [InlineData("""{ "op": "host.fallocate", "vm": "vm1", "size": "4K", "mode": ["punch_hole"] }""", "\"punch_hole\"", "unknown mode \"punch_hole\" (did you mean \"PUNCH_HOLE\"?)")]
    [InlineData("""{ "op": "host.gup", "vm": "vm1", "gpa": 0, "flags": ["Write"] }""", "\"Write\"", "unknown flags \"Write\" (did you mean \"write\"?)")]
    [InlineData("""{ "op": "guest.convert", "vm": "vm1", "gpa": 0, "size": "4K", "to": "Private" }""", "\"Private\"", "unknown to \"Private\" (did you mean \"private\"?)")]
    [InlineData("""{ "op": "kernel.read", "vm": "vm1", "gpa": 0, "len": 4, "requester": "SEAM" }""", "\"SEAM\"", "unknown requester \"SEAM\" (did you mean \"seam\"?); use one of: kernel, seam, kvm")]
    [InlineData("""{ "op": "host.read", "vm": "vm1", "gpa": 0, "len": 4, "expect": "OK" }""", "\"OK\"", "unknown outcome \"OK\" (did you mean \"ok\"?)")]
    [InlineData("""{ "op": "host.read", "vm": "vm1", "gpa": 0, "len": 4, "expect": "guest-mc" }""", "\"guest-mc\"", "unknown outcome \"guest-mc\" (did you mean \"guest-mce\"?)")]
    [InlineData("""{ "op": "host.read", "vm": "vm1", "gpa": 0, "len": 4, "expect": { "SigBus": {} } }""", "\"SigBus\"", "unknown outcome \"SigBus\" (did you mean \"sigbus\"?)")]
    [InlineData("""{ "op": "host.read", "vm": "vm1", "gpa": 0, "len": 4, "expect": { "sigbus": { "code": "bus_mceerr_ar" } } }""", "\"bus_mceerr_ar\"", "unknown code \"bus_mceerr_ar\" (did you mean \"BUS_MCEERR_AR\"?)")]
    [InlineData("""{ "op": "host.read", "vm": "vm1", "gpa": 0, "len": 4, "expect": { "errno": "efault" } }""", "\"efault\"", "unknown errno \"efault\" (did you mean \"EFAULT\"?)")]
    [InlineData("""{ "op": "inspect", "vm": "vm1", "gpa": 0, "expect": { "state": { "hwPoison": true } } }""", "\"hwPoison\"", "unknown state field \"hwPoison\" (did you mean \"hwpoison\"?)")]
    [InlineData("""{ "op": "host.write", "vm": "vm1", "gpa": 0, "data": { "Fill": "0x00", "len": 4 } }""", "\"Fill\"", "unknown data field \"Fill\" (did you mean \"fill\"?)")]
    public void StepNames_WithTheWrongCase_AreRejectedWithAHint(string step, string at, string message)
    {
        var json = OnShmem(step);

        var error = ScenarioJson.Error(json);

        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
        Assert.Equal(At(json, at), error.Location);
    }

    [Theory]
    [InlineData("""{ "name": "n", "Steps": [], "steps": [] }""", "\"Steps\"", "unknown top-level property \"Steps\" (did you mean \"steps\"?)")]
    [InlineData("""{ "name": "n", "components": { "Memory": "plain" }, "steps": [] }""", "\"Memory\"", "unknown component kind \"Memory\" (did you mean \"memory\"?)")]
    [InlineData("""{ "name": "n", "vms": [ { "name": "v", "memory": "4K", "backing": "Anon" } ], "steps": [] }""", "\"Anon\"", "unknown backing \"Anon\" (did you mean \"anon\"?)")]
    [InlineData("""{ "name": "n", "vms": [ { "name": "v", "Memory": "4K" } ], "steps": [] }""", "\"Memory\"", "unknown VM property \"Memory\" (did you mean \"memory\"?)")]
    [InlineData("""{ "name": "n", "host": { "Memory": "4K" }, "steps": [] }""", "\"Memory\"", "unknown host property \"Memory\" (did you mean \"memory\"?)")]
    public void TopLevelNames_WithTheWrongCase_AreRejectedWithAHint(string json, string at, string message)
    {
        var error = ScenarioJson.Error(json);

        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
        Assert.Equal(At(json, at), error.Location);
    }

    [Fact]
    public void ComponentName_WithTheWrongCase_IsRejectedWithAHint()
    {
        var json = """{ "name": "n", "components": { "memory": "Plain" }, "steps": [] }""";

        var error = RunnerHarness.RunError(json);

        Assert.Equal("unknown memory 'Plain' (did you mean \"plain\"?); known: plain", error.Message);
        Assert.Equal(At(json, "\"Plain\""), error.Location);
    }

    [Theory]
    [InlineData("""{ "hwpoison.trackreason": true }""", "unknown option \"trackreason\" for \"hwpoison\" (did you mean \"trackReason\"?); known: trackReason, maxSharedRanges")]
    [InlineData("""{ "HwPoison.trackReason": true }""", "unknown option section \"HwPoison\" in \"HwPoison.trackReason\" (did you mean \"hwpoison\"?); known sections: cost, hwpoison, kvm, linux, memory, mktme, tdx")]
    [InlineData("""{ "Linux": { "earlyKill": true } }""", "unknown option section \"Linux\" in \"Linux.earlyKill\" (did you mean \"linux\"?)")]
    [InlineData("""{ "linux.EarlyKill": true }""", "unknown option \"EarlyKill\" for \"linux\" (did you mean \"earlyKill\"?); known: earlyKill, recovery")]
    [InlineData("""{ "cost.TlbShootdown": 3000 }""", "unknown option \"TlbShootdown\" for \"cost\" (did you mean \"tlbShootdown\"?)")]
    [InlineData("""{ "tdx-ci.mac": "aes" }""", "the options of component \"tdx-ci\" are under \"tdx\": write \"tdx.mac\"")]
    public void OptionKeys_WithTheWrongCase_AreRejectedWithAHint(string options, string message)
    {
        var json = "{ \"name\": \"n\",\n  \"options\": " + options + ",\n  \"steps\": [] }";

        var error = Assert.Throws<ScenarioException>(() => RealPlugins.Validate(json));

        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
        Assert.Equal(2, error.Location.Line);
    }
}
