using Vmm.Tests.Infrastructure;

namespace Vmm.Cli.Tests;

/// <summary>Every file in scenarios/ runs through `vmm run` with the repository's plugins.json and meets its expectations.</summary>
public sealed class ScenarioFilesTests
{
    public static TheoryData<string> ScenarioFiles()
    {
        var data = new TheoryData<string>();
        var root = Path.Combine(TestPaths.RepoRoot, "scenarios");
        foreach (var file in Directory.EnumerateFiles(root, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            data.Add(Path.GetRelativePath(TestPaths.RepoRoot, file));
        return data;
    }

    [Theory]
    [MemberData(nameof(ScenarioFiles))]
    public void Run_ScenarioFile_MeetsEveryExpectation(string relativePath)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var code = Program.Run(["run", "--plugins", Path.Combine(TestPaths.RepoRoot, "plugins.json"), Path.Combine(TestPaths.RepoRoot, relativePath)], stdout, stderr);

        Assert.True(code == 0, $"vmm run {relativePath} exited {code}\n{stdout}\n{stderr}");
    }

    [Fact]
    public void ScenariosFolder_HasScenarioFiles()
        => Assert.True(ScenarioFiles().Count >= 30, "scenarios/ should hold the K/H/P scenario files");
}
