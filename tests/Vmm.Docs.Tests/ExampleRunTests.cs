using Vmm.Core.Engine;
using Vmm.Core.Scenarios;
using Vmm.Hosting;
using Vmm.Tests.Infrastructure;

namespace Vmm.Docs.Tests;

/// <summary>The examples in docs/ are true: each one runs with the repository's plugins and meets every expectation.</summary>
public sealed class ExampleRunTests : IDisposable
{
    private readonly VmmHost _host = VmmHost.Load(Path.Combine(TestPaths.RepoRoot, "plugins.json"));

    public static TheoryData<string> ExampleFiles() => DocsFiles.Relative(DocsFiles.Examples());

    public static TheoryData<string, int> ScenarioBlocks() => MarkdownExampleTests.ScenarioBlocks();

    [Theory]
    [MemberData(nameof(ExampleFiles))]
    public void DocsExampleFile_MeetsEveryExpectation(string relativePath) =>
        AssertPasses(_host.Parse(Path.Combine(TestPaths.RepoRoot, relativePath)), relativePath);

    [Theory]
    [MemberData(nameof(ScenarioBlocks))]
    public void MarkdownScenario_MeetsEveryExpectation(string file, int line)
    {
        var json = DocsFiles.MarkdownScenarios().Single(b => b.File == file && b.Line == line).Json;
        AssertPasses(ScenarioParser.Parse(json, $"{file}:{line}"), $"{file}:{line}");
    }

    public void Dispose() => _host.Dispose();

    private void AssertPasses(Scenario scenario, string what)
    {
        var result = _host.Run(scenario);

        Assert.True(result.Passed, $"{what}: " + string.Join("; ", result.Steps.Where(s => !s.Passed).Select(s => $"step {s.Index} {s.Op}: expected {s.Expected?.Json.GetRawText()}, got {s.Actual}")));
    }
}
