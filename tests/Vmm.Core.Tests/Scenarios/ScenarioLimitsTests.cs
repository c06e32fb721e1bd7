using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;
using Vmm.Core.Engine.Ops;
using static Vmm.Core.Tests.Scenarios.ScenarioTestText;

namespace Vmm.Core.Tests.Scenarios;

/// <summary>Each limit of <see cref="ScenarioLimits"/> at the boundary (parses) and one past it (bad input at the value, naming the limit).</summary>
public class ScenarioLimitsTests
{
    private static Scenario Parse(string json) => ScenarioJson.Parse(json);

    private static ScenarioException Error(string json) => ScenarioJson.Error(json);

    [Fact]
    public void Limits_AreTheDocumentedValues()
    {
        Assert.Equal(64UL << 40, ScenarioLimits.MaxHostMemory);
        Assert.Equal(1UL << 40, ScenarioLimits.MaxVmMappingBytes);
        Assert.Equal(1UL << 32, ScenarioLimits.VmmLowFloor);
        Assert.Equal(64UL << 20, ScenarioLimits.MaxDataBytes);
        Assert.Equal(256UL << 20, ScenarioLimits.MaxScenarioDataBytes);
        Assert.Equal((8UL << 20) + (256UL << 20), ScenarioLimits.DefaultHostMemory(8UL << 20));
    }

    [Theory]
    [InlineData("\"4K\"")]
    [InlineData("\"64T\"")]
    [InlineData("\"0x400000000000\"")]
    public void HostMemory_UpTo64T_Parses(string memory)
    {
        Assert.NotNull(Parse($$"""{ "name": "n", "host": { "memory": {{memory}} }, "steps": [] }""").HostMemory);
    }

    [Theory]
    [InlineData("\"0x400000001000\"", "host \"memory\" is 0x400000001000, more than the simulator's limit of 64T; use at most \"64T\"")]
    [InlineData("\"16384T\"", "host \"memory\" is 16384T, more than the simulator's limit of 64T")]
    [InlineData("\"0xFFFFFFFFFFFFF000\"", "more than the simulator's limit of 64T")]
    [InlineData("\"18446744073709551615\"", "host \"memory\" must be a non-zero multiple of 4K")]
    [InlineData("\"6K\"", "host \"memory\" must be a non-zero multiple of 4K, not \"6K\"")]
    [InlineData("0", "host \"memory\" must be a non-zero multiple of 4K, not 0")]
    public void HostMemory_PastTheLimits_IsBadInputAtTheValue(string memory, string message)
    {
        var json = $$"""{ "name": "n", "host": { "memory": {{memory}} }, "steps": [] }""";

        var error = Error(json);

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Equal(At(json, memory), error.Location);
    }

    [Theory]
    [InlineData("\"4K\"", "anon")]
    [InlineData("\"2M\"", "hugetlb")]
    [InlineData("\"1T\"", "shmem")]
    [InlineData("\"0x10000001000\"", "shmem")] // 1 TiB + 4 KiB: too large for the window above the base, so below it
    public void VmMemory_AtTheBoundaries_Parses(string memory, string backing)
    {
        Assert.Single(Parse(WithVms($$"""{ "name": "vm1", "memory": {{memory}}, "backing": "{{backing}}" }""")).Vms);
    }

    [Theory]
    [InlineData("\"2K\"", "anon", "VM \"vm1\": \"memory\" must be a non-zero multiple of 4K, not \"2K\"")]
    [InlineData("0", "anon", "VM \"vm1\": \"memory\" must be a non-zero multiple of 4K, not 0")]
    [InlineData("\"3M\"", "hugetlb", "VM \"vm1\": hugetlb memory must be a multiple of 2M, not 3M")]
    [InlineData("\"18446744073709551615\"", "anon", "must be a non-zero multiple of 4K")]
    [InlineData("\"0xFFFFFFFFFFFFF000\"", "anon", "VM \"vm1\" (0xfffffffffffff000) does not fit the VMM's address space")]
    public void VmMemory_PastTheLimits_IsBadInputAtTheValue(string memory, string backing, string message)
    {
        var json = WithVms($$"""{ "name": "vm1", "memory": {{memory}}, "backing": "{{backing}}" }""");

        var error = Error(json);

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Equal(At(json, memory), error.Location);
    }

    [Fact]
    public void VmMappings_1024VmsOf4K_FillTheTiBAboveTheBase_The1025thGoesBelowIt()
    {
        var fits = string.Join(",\n    ", Enumerable.Range(0, 1025).Select(i => $$"""{ "name": "v{{i}}", "memory": "4K" }"""));
        Assert.Equal(1025, Parse(WithVms(fits)).Vms.Count);
    }

    [Fact]
    public void VmPlacement_AboveTheBaseWhileItFits_ThenTopDownBelowIt_DownToTheFloor()
    {
        ulong up = ScenarioLimits.VmmMappingBase, down = ScenarioLimits.VmmMappingBase;

        Assert.True(ScenarioLimits.TryPlaceVmMapping(ref up, ref down, 4096, out var first));
        Assert.True(ScenarioLimits.TryPlaceVmMapping(ref up, ref down, 64UL << 40, out var large));
        Assert.True(ScenarioLimits.TryPlaceVmMapping(ref up, ref down, (1UL << 40) - (1UL << 30), out var fillsAbove));
        Assert.True(ScenarioLimits.TryPlaceVmMapping(ref up, ref down, 4096, out var nextBelow));
        Assert.False(ScenarioLimits.TryPlaceVmMapping(ref up, ref down, down - ScenarioLimits.VmmLowFloor + 1, out _));
        Assert.True(ScenarioLimits.TryPlaceVmMapping(ref up, ref down, down - ScenarioLimits.VmmLowFloor, out var toTheFloor));

        Assert.Equal(0x7f00_0000_0000UL, first);
        Assert.Equal(0x7f00_0000_0000UL - (64UL << 40), large);
        Assert.Equal(0x7f00_4000_0000UL, fillsAbove);
        Assert.Equal(ScenarioLimits.UserSpaceEnd, up);
        Assert.Equal(large - (1UL << 30), nextBelow);
        Assert.Equal(ScenarioLimits.VmmLowFloor, toTheFloor);
        Assert.False(ScenarioLimits.TryPlaceVmMapping(ref up, ref down, 4096, out _));
        Assert.False(ScenarioLimits.TryPlaceVmMapping(ref up, ref down, 0, out _));
    }

    [Fact]
    public void VmMemory_MoreThanHostMemory_NamesBoth()
    {
        var json = WithVms("""{ "name": "vm1", "memory": "128M" }""", "\"64M\"");

        var error = Error(json);

        Assert.Equal("VM \"vm1\" has 128M of memory, more than host.memory (64M); raise host.memory or give the VM less", error.Message);
        Assert.Equal(At(json, "\"128M\""), error.Location);
    }

    [Fact]
    public void VmsTogether_MoreThanHostMemory_FailAtHostMemory()
    {
        var ok = WithVms("""{ "name": "a", "memory": "32M" }, { "name": "b", "memory": "32M" }""", "\"64M\"");
        Assert.Equal(2, Parse(ok).Vms.Count);
        var json = WithVms("""{ "name": "a", "memory": "32M" }, { "name": "b", "memory": "36M" }""", "\"64M\"");

        var error = Error(json);

        Assert.StartsWith("host.memory (64M) is smaller than the VMs' memory (68M with VM \"b\")", error.Message, StringComparison.Ordinal);
        Assert.Equal(At(json, "\"64M\""), error.Location);
    }

    [Fact]
    public void Data_OneValueOf64M_Parses_OneByteMore_DoesNot()
    {
        Assert.Equal(64 << 20, Parse(WithBig("""{ "op": "host.write", "vm": "big", "gpa": 0, "data": { "fill": "0x5a", "len": "64M" } }""")).Steps[0].Op is HostWrite write ? write.Data.Length : 0);
        var json = WithBig("""{ "op": "host.write", "vm": "big", "gpa": 0, "data": { "pattern": 1, "len": "0x4000001" } }""");

        var error = Error(json);

        Assert.Equal("data \"len\" must be between 1 and 64M, not \"0x4000001\"", error.Message);
        Assert.Equal(At(json, "\"0x4000001\""), error.Location);
    }

    [Fact]
    public void Data_FillOfAThreeByteUnit_RepeatsItExactly()
    {
        var data = ScenarioJson.Step("""{ "op": "host.write", "vm": "vm1", "gpa": 0, "data": { "fill": "0x010203", "len": 10 } }""").Op is HostWrite write ? write.Data : [];

        Assert.Equal(new byte[] { 1, 2, 3, 1, 2, 3, 1, 2, 3, 1 }, data);
    }

    [Fact]
    public void Data_256MPerScenario_Parses_OneByteMore_DoesNot()
    {
        var big = """{ "op": "guest.write", "vm": "big", "gpa": 0, "data": { "fill": "0x00", "len": "64M" } }""";
        string Scenario(params string[] steps) =>
            "{ \"name\": \"t\", \"vms\": [ { \"name\": \"big\", \"memory\": \"64M\" } ],\n  \"steps\": [\n    " + string.Join(",\n    ", steps) + " ] }";
        Assert.Equal(4, Parse(Scenario(big, big, big, big)).Steps.Count);
        var json = Scenario(big, big, big, big, """{ "op": "guest.write", "vm": "big", "gpa": 0, "data": "0x01" }""");

        var error = Error(json);

        Assert.Equal("the scenario's data values come to 0x10000001 with this one, more than the limit of 256M per scenario; use less data or split the scenario", error.Message);
        Assert.Equal(At(json, "\"0x01\""), error.Location);
    }

    [Fact]
    public void Data_ExpectedDataCountsTowardsTheScenarioTotal()
    {
        var big = """{ "op": "guest.read", "vm": "big", "gpa": 0, "len": "64M", "expect": { "ok": { "data": { "fill": "0x00", "len": "64M" } } } }""";
        var json = "{ \"name\": \"t\", \"vms\": [ { \"name\": \"big\", \"memory\": \"64M\" } ],\n  \"steps\": [\n    " + string.Join(",\n    ", big, big, big, big, big) + " ] }";

        var error = Error(json);

        Assert.Contains("more than the limit of 256M per scenario", error.Message, StringComparison.Ordinal);
        Assert.Equal(At(json, "\"64M\" }", 6), error.Location);
    }

    [Theory]
    [InlineData("guest.read")]
    [InlineData("host.read")]
    [InlineData("kernel.read")]
    [InlineData("device.dma-read")]
    public void ReadLen_64M_Parses_OneMore_DoesNot(string op)
    {
        Assert.Equal(64UL << 20, Parse(WithBig($$"""{ "op": "{{op}}", "vm": "big", "gpa": 0, "len": "64M" }""")).Steps[0].Op switch { GuestRead r => r.Len, HostRead r => r.Len, KernelRead r => r.Len, DmaRead r => r.Len, _ => 0UL });
        var json = WithBig($$"""{ "op": "{{op}}", "vm": "big", "gpa": 0, "len": 67108865 }""");

        var error = Error(json);

        Assert.Equal("\"len\" must be between 1 and 64M, not 67108865", error.Message);
        Assert.Equal(At(json, "67108865"), error.Location);
    }

    private static string WithBig(string step) =>
        "{ \"name\": \"t\", \"vms\": [ { \"name\": \"big\", \"memory\": \"128M\" } ],\n  \"steps\": [\n    " + step + " ] }";
}
