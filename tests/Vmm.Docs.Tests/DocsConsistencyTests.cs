using System.Text.RegularExpressions;
using Vmm.Abstractions;
using Vmm.Hosting;
using Vmm.Tests.Infrastructure;

namespace Vmm.Docs.Tests;

/// <summary>The docs name what the program has, and send readers only to files the repository has.</summary>
public sealed partial class DocsConsistencyTests
{
    private static readonly string ScenarioFormat = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "scenario-format.md"));
    private static readonly string Costs = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "costs.md"));

    [Fact]
    public void ScenarioFormat_NamesEveryComponentAndOptionOfTheRepositoryPlugins()
    {
        using var host = VmmHost.Load(Path.Combine(TestPaths.RepoRoot, "plugins.json"));

        var scenarioComponents = host.Components.Where(c => c.Kind != ComponentKind.Workload).ToList();
        var missing = scenarioComponents.Select(c => c.Name)
            .Concat(scenarioComponents.SelectMany(c => c.Options).Select(o => o.Key))
            .Concat(VmmHost.CoreOptions.Select(o => o.Key).Where(k => !k.StartsWith("cost.", StringComparison.Ordinal)))
            .Distinct()
            .Where(name => !ScenarioFormat.Contains($"`{name}`", StringComparison.Ordinal))
            .ToList();

        Assert.True(missing.Count == 0, "docs/scenario-format.md does not name: " + string.Join(", ", missing) + " (see `vmm plugins`)");
    }

    [Fact]
    public void Compare_NamesEveryWorkloadAndItsOptions()
    {
        using var host = VmmHost.Load(Path.Combine(TestPaths.RepoRoot, "plugins.json"));
        var compare = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "compare.md"));
        var workloads = host.Components.Where(c => c.Kind == ComponentKind.Workload).ToList();

        var missing = workloads.Select(c => c.Name)
            .Concat(workloads.SelectMany(c => c.Options).Select(o => o.Key))
            .Where(name => !compare.Contains($"`{name}`", StringComparison.Ordinal))
            .ToList();

        Assert.NotEmpty(workloads);
        Assert.True(missing.Count == 0, "docs/compare.md does not name: " + string.Join(", ", missing) + " (see `vmm plugins`)");
    }

    [Fact]
    public void Costs_NamesEveryCostOption()
    {
        var missing = VmmHost.CoreOptions.Select(o => o.Key)
            .Where(k => k.StartsWith("cost.", StringComparison.Ordinal) && !Costs.Contains($"`{k}`", StringComparison.Ordinal))
            .ToList();

        Assert.True(missing.Count == 0, "docs/costs.md does not name: " + string.Join(", ", missing));
    }

    public static TheoryData<string> MarkdownFiles()
    {
        var data = new TheoryData<string> { "README.md" };
        foreach (var file in Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, "docs"), "*.md", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            data.Add(Path.GetRelativePath(TestPaths.RepoRoot, file).Replace('\\', '/'));
        return data;
    }

    [Theory]
    [MemberData(nameof(MarkdownFiles))]
    public void Markdown_LinksOnlyToFilesInTheRepository(string relativePath)
    {
        var file = Path.Combine(TestPaths.RepoRoot, relativePath);
        var text = File.ReadAllText(file);

        var broken = LocalLink().Matches(text)
            .Select(m => m.Groups["target"].Value)
            .Where(target => !target.Contains("://", StringComparison.Ordinal) && !target.StartsWith('#'))
            .Select(target => target.Split('#')[0])
            .Where(target => !File.Exists(Path.Combine(Path.GetDirectoryName(file)!, target)) && !Directory.Exists(Path.Combine(Path.GetDirectoryName(file)!, target)))
            .ToList();
        Assert.True(broken.Count == 0, $"{relativePath} links to missing files: {string.Join(", ", broken)}");
        Assert.DoesNotMatch(OutsidePath(), text);
    }

    /// <summary>[text](target): the targets a reader can click.</summary>
    [GeneratedRegex(@"\]\((?<target>[^)\s]+)\)")]
    private static partial Regex LocalLink();

    /// <summary>The project's internal notes live outside the repository; users do not have them.</summary>
    [GeneratedRegex(@"shared/(spec|background|design)/")]
    private static partial Regex OutsidePath();
}
