using Vmm.Abstractions;
using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;
using Vmm.Core.Engine.Ops;
using static Vmm.Core.Tests.Scenarios.ScenarioTestText;

namespace Vmm.Core.Tests.Scenarios;

/// <summary>Each op takes its own properties (scenario-format.md's operations table plus README's extensions) and says which when given another.</summary>
public class StepPropertiesTests
{
    private static ScenarioException Error(string json) => ScenarioJson.Error(json);

    [Fact]
    public void HostRead_WithAdviceBitAndTo_IsRejectedWithHostReadsOwnList()
    {
        var json = OnShmem("""{ "op": "host.read", "vm": "vm1", "gpa": 0, "len": 4, "advice": "HWPOISON", "bit": 3, "to": "shared" }""");

        var error = Error(json);

        Assert.Equal("step 0 (host.read) does not use \"advice\"; remove it (host.read takes: op, hva, vm, gpa, len, expect)", error.Message);
        Assert.Equal(At(json, "\"advice\""), error.Location);
    }

    [Theory]
    [InlineData("guest.read", "op, vm, gpa, len, shared, expect")]
    [InlineData("guest.convert", "op, vm, gpa, size, to, expect")]
    [InlineData("host.gup", "op, hva, vm, gpa, pages, flags, expect")]
    [InlineData("host.pread", "op, vm, offset, len, bufferGpa, expect")]
    [InlineData("host.pwrite", "op, vm, offset, data, len, bufferGpa, expect")]
    [InlineData("host.mmap-backing", "op, vm, offset, size, hva, overVm, expect")]
    [InlineData("kernel.read", "op, vm, gpa, pfn, len, requester, expect")]
    [InlineData("hw.flip-bit", "op, vm, gpa, pfn, bit, expect")]
    [InlineData("hw.unpoison", "op, vm, gpa, pfn, expect")]
    [InlineData("host.fork", "op, expect")]
    [InlineData("vm.destroy", "op, vm, expect")]
    public void PropertiesOf_EachOp_IsItsRowOfTheTable(string op, string properties)
    {
        Assert.Equal(properties, string.Join(", ", ScenarioParser.PropertiesOf(op)));
    }

    [Theory]
    [InlineData("backing", "anon, shmem, hugetlb, file, guest-memfd")]
    [InlineData("to", "private, shared")]
    [InlineData("advice", "HWPOISON, SOFT_OFFLINE, DONTNEED, HUGEPAGE, NOHUGEPAGE")]
    [InlineData("requester", "kernel, seam, kvm")]
    [InlineData("flags", "write, hwpoison, allow-poisoned, pin, fast")]
    [InlineData("outcome", "ok, guest-mce, guest-killed, guest-vc, host-panic, shutdown, not-run")]
    public void NamesOf_APropertyWithFixedNames_IsWhatTheParserAccepts(string property, string names)
    {
        Assert.Equal(names, string.Join(", ", ScenarioParser.NamesOf(property)));
    }

    [Theory]
    [InlineData("guest.convert", "size, to")]
    [InlineData("host.gup", "")]
    [InlineData("host.pwrite", "")]
    [InlineData("hw.flip-bit", "bit")]
    [InlineData("host.fallocate", "size")]
    public void RequiredPropertiesOf_EachOp_IsWhatAStepWithoutItIsRejectedFor(string op, string required)
    {
        Assert.Equal(required, string.Join(", ", ScenarioParser.RequiredPropertiesOf(op)));
        foreach (var property in ScenarioParser.RequiredPropertiesOf(op))
            Assert.Contains(property, ScenarioParser.PropertiesOf(op));
    }

    [Theory]
    [InlineData("""{ "op": "host.fork", "vm": "vm1" }""", "\"vm\"", "step 0 (host.fork) does not use \"vm\"; remove it (host.fork takes: op, expect)")]
    [InlineData("""{ "op": "guest.write", "vm": "vm1", "gpa": 0, "data": "0x00", "len": 1 }""", "\"len\"", "step 0 (guest.write) does not use \"len\"")]
    [InlineData("""{ "op": "kernel.read", "vm": "vm1", "gpa": 0, "len": 1, "offset": 0 }""", "\"offset\"", "step 0 (kernel.read) does not use \"offset\"")]
    [InlineData("""{ "op": "device.dma-read", "pfn": 1, "len": 1 }""", "\"pfn\"", "step 0 (device.dma-read) does not use \"pfn\"")]
    [InlineData("""{ "op": "host.read", "vm": "vm1", "gpa": 0, "len": 1, "requester": "kvm" }""", "\"requester\"", "step 0 (host.read) does not use \"requester\"")]
    [InlineData("""{ "op": "guest.read", "vm": "vm1", "gpa": 0, "len": 1, "bufferGpa": 0 }""", "\"bufferGpa\"", "step 0 (guest.read) does not use \"bufferGpa\"")]
    [InlineData("""{ "op": "inspect", "vm": "vm1", "gpa": 0, "sizee": 1 }""", "\"sizee\"", "unknown property \"sizee\" in step 0 (inspect); inspect takes: op, vm, gpa, pfn, expect")]
    [InlineData("""{ "op": "guest.read", "vm": "vm1", "gpa": 0, "Len": 1 }""", "\"Len\"", "unknown property \"Len\" in step 0 (guest.read) (did you mean \"len\"?); guest.read takes: op, vm, gpa, len, shared, expect")]
    public void Step_WithAPropertyItsOpDoesNotUse_IsRejectedAtTheName(string step, string at, string message)
    {
        var json = OnShmem(step);

        var error = Error(json);

        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
        Assert.Equal(At(json, at), error.Location);
    }

    [Theory]
    [InlineData("""{ "op": "guest.read", "vm": "vm1", "gpa": 0 }""", "step 0 (guest.read) needs \"len\"")]
    [InlineData("""{ "op": "guest.convert", "vm": "vm1", "gpa": 0, "size": "4K" }""", "step 0 (guest.convert) needs \"to\"")]
    [InlineData("""{ "op": "hw.flip-bit", "vm": "vm1", "gpa": 0 }""", "step 0 (hw.flip-bit) needs \"bit\"")]
    [InlineData("""{ "op": "guest.read", "gpa": 0, "len": 4 }""", "step 0 (guest.read) needs \"vm\" with \"gpa\"")]
    [InlineData("""{ "op": "host.read", "len": 4 }""", "step 0 (host.read) needs \"hva\", or \"vm\" and \"gpa\"")]
    [InlineData("""{ "op": "host.read", "hva": 0, "vm": "vm1", "gpa": 0, "len": 4 }""", "step 0 (host.read) takes \"hva\" or \"vm\" and \"gpa\", not both; remove one")]
    [InlineData("""{ "op": "inspect", "pfn": 1, "vm": "vm1", "gpa": 0 }""", "step 0 (inspect) takes \"pfn\" or \"vm\" and \"gpa\", not both; remove one")]
    [InlineData("""{ "op": "inspect" }""", "step 0 (inspect) needs \"vm\" and \"gpa\", or \"pfn\"")]
    [InlineData("""{ "op": "kernel.read", "pfn": 1, "len": 4, "requester": "seam" }""", "step 0 (kernel.read) with \"requester\": \"seam\" needs \"vm\" and \"gpa\" instead of \"pfn\"")]
    [InlineData("""{ "op": "host.pwrite", "vm": "vm1", "offset": 0 }""", "step 0 (host.pwrite) needs \"data\" (or \"bufferGpa\" and \"len\")")]
    [InlineData("""{ "op": "host.pwrite", "vm": "vm1", "offset": 0, "bufferGpa": 0, "data": "0x00" }""", "step 0 (host.pwrite) with \"bufferGpa\" writes from guest memory: give \"len\", not \"data\"")]
    [InlineData("""{ "op": "host.pwrite", "vm": "vm1", "offset": 0, "len": 4 }""", "step 0 (host.pwrite) takes \"len\" only with \"bufferGpa\"; give the bytes as \"data\"")]
    [InlineData("""{ "op": "host.mmap-backing", "vm": "vm1", "size": "4K", "hva": "0x7f0000000010" }""", "step 0 (host.mmap-backing): \"hva\" 0x7f0000000010 must be page-aligned (MAP_FIXED)")]
    public void Step_WithoutWhatItsOpNeeds_IsRejectedAtTheStep(string step, string message)
    {
        var json = OnShmem(step);

        var error = Error(json);

        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
        Assert.Equal(4, error.Location.Line);
    }

    [Fact]
    public void Extensions_OfTheReadme_Parse()
    {
        var steps = ScenarioJson.Parse(OnShmem(
            """{ "op": "host.pread", "vm": "vm1", "offset": 0, "len": 4096, "bufferGpa": "0x1000" }""",
            """{ "op": "host.pwrite", "vm": "vm1", "offset": 0, "len": 4096, "bufferGpa": "0x1000" }""",
            """{ "op": "kernel.write", "vm": "vm1", "gpa": 0, "data": "0x00", "requester": "kvm" }""",
            """{ "op": "host.mmap-backing", "vm": "vm1", "offset": 0, "size": "4K", "hva": "0x7f8000000000" }""",
            """{ "op": "hw.unpoison", "pfn": 1 }""")).Steps;

        Assert.Equal(0x1000UL, Assert.IsType<HostPread>(steps[0].Op).BufferGpa);
        Assert.Equal(4096UL, Assert.IsType<HostPwrite>(steps[1].Op).Len);
        Assert.Equal("kvm", Assert.IsType<KernelWrite>(steps[2].Op).Requester);
        Assert.Equal(0x7f8000000000UL, steps[3].Op.At.Hva);
        Assert.Equal(1UL, steps[4].Op.At.Pfn);
    }

    [Fact]
    public void GmemFlags_OnAGuestMemfdVm_AreRead()
    {
        var vm = ScenarioJson.Parse(WithVms("""{ "name": "td", "memory": "8M", "backing": "guest-memfd", "gmemFlags": ["MMAP", "INIT_SHARED"] }""")).Vms[0];

        Assert.Equal(GuestMemfdFlags.Mmap | GuestMemfdFlags.InitShared, vm.GmemFlags);
    }

    [Fact]
    public void GmemFlags_OnAnotherBacking_AreRejectedAtTheName()
    {
        var json = WithVms("""{ "name": "vm1", "memory": "8M", "gmemFlags": ["MMAP"] }""");

        var error = Error(json);

        Assert.Equal("\"gmemFlags\" apply to guest-memfd backing only; set \"backing\": \"guest-memfd\" on VM \"vm1\" or remove \"gmemFlags\"", error.Message);
        Assert.Equal(At(json, "\"gmemFlags\""), error.Location);
    }

    [Fact]
    public void GmemFlags_WithAnUnknownFlag_HintsTheNearOne()
    {
        var json = WithVms("""{ "name": "vm1", "memory": "8M", "backing": "guest-memfd", "gmemFlags": ["mmap"] }""");

        var error = Error(json);

        Assert.Equal("unknown gmemFlags \"mmap\" (did you mean \"MMAP\"?); use one of: MMAP, INIT_SHARED", error.Message);
        Assert.Equal(At(json, "\"mmap\""), error.Location);
    }

    [Fact]
    public void Outcomes_AddedIn2026_12_Parse()
    {
        var steps = ScenarioJson.Parse(OnShmem(
            """{ "op": "guest.read", "vm": "vm1", "gpa": 0, "len": 4, "expect": "guest-vc" }""",
            """{ "op": "host.read", "vm": "vm1", "gpa": 0, "len": 4, "expect": { "sigbus": { "code": "SI_KERNEL" } } }""")).Steps;

        Assert.Equal(OutcomeKind.GuestVc, steps[0].Expect!.Kind);
        Assert.Equal(SigBusCode.SI_KERNEL, steps[1].Expect!.SigBusCode);
    }

    [Fact]
    public void SiKernel_WithAnLsb_IsRejected()
    {
        var json = OnShmem("""{ "op": "host.read", "vm": "vm1", "gpa": 0, "len": 4, "expect": { "sigbus": { "code": "SI_KERNEL", "lsb": 12 } } }""");

        var error = Error(json);

        Assert.StartsWith("a SIGBUS with code SI_KERNEL (a plain force_sig) carries no address and no lsb", error.Message, StringComparison.Ordinal);
        Assert.Equal(At(json, "\"lsb\""), error.Location);
    }
}
