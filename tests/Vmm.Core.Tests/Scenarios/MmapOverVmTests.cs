using Vmm.Core.Scenarios;

namespace Vmm.Core.Tests.Scenarios;

/// <summary><c>host.mmap-backing</c> with <c>overVm</c> (added 2026-12): MAP_FIXED over another VM's memslot.</summary>
public sealed class MmapOverVmTests
{
    private static string Scenario(string step) => $$"""
        { "name": "x", "vms": [ { "name": "a", "memory": "8M", "backing": "shmem" }, { "name": "b", "memory": "4M", "backing": "shmem" } ],
          "steps": [ {{step}} ] }
        """;

    [Theory]
    [InlineData("""{ "op": "host.mmap-backing", "vm": "a", "offset": "0x0", "size": "4M", "overVm": "c" }""", "unknown overVm \"c\"; use one of: a, b")]
    [InlineData("""{ "op": "host.mmap-backing", "vm": "a", "offset": "0x0", "size": "4M", "overVm": "a" }""", "\"overVm\" names the step's own VM \"a\"; name another VM")]
    [InlineData("""{ "op": "host.mmap-backing", "vm": "a", "offset": "0x0", "size": "4M", "overVm": "b", "hva": "0x7f0000000000" }""", "give \"hva\" or \"overVm\", not both")]
    public void Parse_BadOverVm_NamesTheFix(string step, string message)
    {
        var error = Assert.Throws<ScenarioException>(() => ScenarioParser.Parse(Scenario(step), "x.json"));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_OverVm_IsTheOtherVmsName()
    {
        var ok = ScenarioParser.Parse(Scenario("""{ "op": "host.mmap-backing", "vm": "a", "offset": "0x0", "size": "4M", "overVm": "b" }"""), "x.json");

        Assert.Equal("b", Assert.IsType<Vmm.Core.Engine.Ops.MmapBacking>(ok.Steps[0].Op).OverVm);
    }
}
