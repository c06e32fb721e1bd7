using Vmm.Hosting;
using Vmm.Testing;

namespace MyVmmPlugin.Tests;

/// <summary>The plugin loads through ../plugins.json with the built-in plugins, and every scenario in ../scenarios passes.</summary>
public sealed class PluginTests
{
    [Fact]
    public void EveryComponentOfThePlugin_HasAConformanceClass()
    {
        var covered = typeof(PluginTests).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(ComponentConformance).IsAssignableFrom(t))
            .Select(t => (ComponentConformance)Activator.CreateInstance(t)!)
            .Select(c => (c.Kind.Name, c.ComponentName))
            .ToList();
        var ours = ConformanceHost.For().Components.Where(c => c.Supplier == "MyVmmPlugin").ToList();

        Assert.NotEmpty(ours);
        Assert.All(ours, c => Assert.Contains((c.Kind.Name, c.Name), covered));
    }

#if (!isWorkload)
    public static TheoryData<string> Scenarios()
    {
        var data = new TheoryData<string>();
        var directory = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(ConformanceHost.For().PluginsFile)!, "scenarios"));
        if (Directory.Exists(directory))
            foreach (var file in VmmHost.ExpandPaths([directory])) data.Add(Path.GetFileName(file));
        return data;
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Scenario_MeetsEveryExpectation(string file)
    {
        var host = ConformanceHost.For();
        var validated = host.Validate(Path.Combine(Path.GetDirectoryName(host.PluginsFile)!, "scenarios", file));
        Assert.True(validated.IsValid, $"{file}: {validated.Error}");

        var report = host.Run(validated);

        Assert.True(report.Passed, $"{file}: " + string.Join("; ", report.Steps.Where(s => !s.Passed).Select(s => $"step {s.Index} {s.Op}: expected {s.ExpectedJson}, got {s.ActualJson}")));
    }
#endif
}
