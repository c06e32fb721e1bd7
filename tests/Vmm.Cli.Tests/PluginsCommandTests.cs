using System.Text.Json;
using Vmm.Cli.Tests.Infrastructure;

namespace Vmm.Cli.Tests;

public class PluginsCommandTests
{
    [Fact]
    public void Plugins_ListsComponentsWithTheirPluginAndOptionDefaults()
    {
        using var cli = new CliHarness();

        var result = cli.Vmm("plugins");

        Assert.Equal(0, result.ExitCode);
        var memoryRow = result.Stdout.Split('\n').First(line => line.Contains("test-memory", StringComparison.Ordinal));
        Assert.Contains("memory", memoryRow, StringComparison.Ordinal);
        Assert.Contains("Fakes", memoryRow, StringComparison.Ordinal);
        Assert.Contains("Inert memory controller for tests.", memoryRow, StringComparison.Ordinal);
        var optionRow = result.Stdout.Split('\n').First(line => line.Contains("test-memory.lines", StringComparison.Ordinal));
        Assert.Contains("an integer", optionRow, StringComparison.Ordinal);
        Assert.Contains("64", optionRow, StringComparison.Ordinal);
        Assert.Contains("linux.earlyKill", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Plugins_Json_ListsEveryComponent()
    {
        using var cli = new CliHarness();

        var result = cli.Vmm("plugins", "--json");

        Assert.Equal(0, result.ExitCode);
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal(
            ["test-memory", "test-policy", "test-thp", "test-faults", "test-pagetable", "x86-64"],
            json.RootElement.GetProperty("components").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
        Assert.Equal("Fakes", json.RootElement.GetProperty("plugins")[0].GetProperty("name").GetString());
    }

    [Fact]
    public void Plugins_WithMissingPluginsJson_Exits2()
    {
        using var cli = new CliHarness();
        var missing = Path.Combine(cli.Directory, "nothing.json");

        var result = CliHarness.VmmWithPlugins(missing, "plugins");

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith($"vmm: {missing}: plugins file not found", result.Stderr, StringComparison.Ordinal);
    }
}
