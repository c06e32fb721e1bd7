using Vmm.Abstractions;
using Vmm.Tests.Infrastructure;

namespace Vmm.Hosting.Tests;

/// <summary>VmmHost.ValidateText and RunWithMemoryMaps: scenario text without a file, and each VM's pages between steps.</summary>
public sealed class MemoryMapTests
{
    private static string PluginsJson => Path.Combine(TestPaths.RepoRoot, "plugins.json");

    private const string Scenario = """
        {
          "name": "map",
          "components": { "memory": "tdx-ci", "policy": "POLICY" },
          "vms": [
            { "name": "td1", "memory": "64K", "protected": true, "backing": "shmem" },
            { "name": "vm2", "memory": "16K", "backing": "shmem" }
          ],
          "steps": [
            { "op": "guest.write", "vm": "td1", "gpa": "0x1000", "data": "0x11", "expect": "ok" },
            { "op": "guest.convert", "vm": "td1", "gpa": "0x2000", "size": "4K", "to": "shared", "expect": "ok" },
            { "op": "host.write", "vm": "td1", "gpa": "0x2000", "data": "0x22", "expect": "ok" },
            { "op": "hw.memory-error", "vm": "td1", "gpa": "0x2000" },
            { "op": "host.write", "vm": "vm2", "gpa": "0x0", "data": "0x33", "expect": "ok" }
          ]
        }
        """;

    [Fact]
    public void RunWithMemoryMaps_ConversionTouchAndMemoryError_ChangeThePageBetweenSteps()
    {
        using var host = VmmHost.Load(PluginsJson);
        var scenario = host.ValidateText(Scenario.Replace("POLICY", "none", StringComparison.Ordinal), "map.json");

        var map = host.RunWithMemoryMaps(scenario);

        Assert.True(map.Report.Passed);
        Assert.Equal(6, map.Frames.Count);
        Assert.Equal(Enumerable.Range(0, 6), map.Frames.Select(f => f.StepsDone));
        GuestPageState Td1Page2(int frame) => map.Frames[frame].Vms[0].Cells[2];
        Assert.All(map.Frames[0].Vms[0].Cells, c => Assert.Equal(GuestPageState.Private, c));
        Assert.All(map.Frames[0].Vms[1].Cells, c => Assert.Equal(GuestPageState.UnmappedInVmm, c));
        Assert.Equal(GuestPageState.Private, Td1Page2(1));
        Assert.Equal(GuestPageState.UnmappedInVmm, Td1Page2(2));
        Assert.Equal(GuestPageState.Shared, Td1Page2(3));
        Assert.Equal(GuestPageState.Poisoned, Td1Page2(4));
        Assert.Equal([GuestPageState.Shared, GuestPageState.UnmappedInVmm, GuestPageState.UnmappedInVmm, GuestPageState.UnmappedInVmm], map.Frames[5].Vms[1].Cells);
        Assert.Equal(("td1", 16L, 1L), (map.Frames[5].Vms[0].Vm, map.Frames[5].Vms[0].Pages, map.Frames[5].Vms[0].PagesPerCell));
    }

    [Fact]
    public void RunWithMemoryMaps_PolicyPoison_ShowsAsPrivateNotPoisoned()
    {
        using var host = VmmHost.Load(PluginsJson);
        var scenario = host.ValidateText(Scenario.Replace("POLICY", "hwpoison-v2", StringComparison.Ordinal), "map.json");

        var map = host.RunWithMemoryMaps(scenario);

        Assert.Equal(GuestPageState.Private, map.Frames[1].Vms[0].Cells[1]);
        Assert.Equal(GuestPageState.Poisoned, map.Frames[4].Vms[0].Cells[2]);
    }

    [Fact]
    public void RunWithMemoryMaps_FewerCellsThanPages_GroupsPagesAndShowsTheMostNotable()
    {
        using var host = VmmHost.Load(PluginsJson);
        var scenario = host.ValidateText(Scenario.Replace("POLICY", "none", StringComparison.Ordinal), "map.json");

        var map = host.RunWithMemoryMaps(scenario, maxCells: 8);

        var td1 = map.Frames[^1].Vms[0];
        Assert.Equal((2L, 8), (td1.PagesPerCell, td1.Cells.Count));
        Assert.Equal(GuestPageState.Poisoned, td1.Cells[1]);
        Assert.Equal(GuestPageState.Private, td1.Cells[0]);
    }

    [Fact]
    public void ValidateText_BrokenText_ReportsLineAndColumnUnderTheGivenName()
    {
        using var host = VmmHost.Load(PluginsJson);

        var result = host.ValidateText("{\n  \"name\": 5\n}", "pasted.json");

        Assert.False(result.IsValid);
        Assert.Equal(("pasted.json", 2L), (result.Error!.File, result.Error.Line));
        Assert.True(result.Error.Column > 1);
    }
}
